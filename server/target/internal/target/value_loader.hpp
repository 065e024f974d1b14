#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dwarf/debug_info.hpp"
#include "target/variable.hpp"

namespace goscope::target {

class BinaryInfo;

/// Reads tracee memory for the loader; returns false when the range is unreadable.
using MemoryFn = std::function<bool(std::uint64_t addr, std::span<std::byte> out)>;
/// Reads a register by DWARF number (0-16 general purpose, 17-32 xmm0-15 low 8 bytes).
using RegisterFn = std::function<std::optional<std::uint64_t>(unsigned regno)>;

/// Builds Delve-shaped Variables from DWARF types and tracee memory, following Delve's
/// loading rules (LoadConfig limits, recursion levels, interface dynamic types).
class ValueLoader {
 public:
  ValueLoader(const BinaryInfo& bi, MemoryFn mem) : bi_(bi), mem_(std::move(mem)) {}

  const BinaryInfo& binary() const { return bi_; }

  /// A value of type `type` stored at `addr`.
  Variable load(std::string name, const dwarf::Type* type, std::uint64_t addr,
                const LoadConfig& cfg);

  /// Whether load_variable fills Variable::location_expr (Delve's LocationExpr text, which
  /// the RPC API shows and trace lines never do). On by default.
  void set_location_text(bool on) { location_text_ = on; }

  /// A function parameter/result/local at `pc`, its location evaluated with `regs` and
  /// `cfa` (the canonical frame address, which is also Go's frame base).
  /// `dict` is the frame's generic dictionary (the `.dict` argument of a shape
  /// instantiation, 0 if none): a type parameter's type is resolved through it as
  /// resolve_parametric does.
  Variable load_variable(const dwarf::Variable& var, std::uint64_t pc, std::uint64_t cfa,
                         const RegisterFn& regs, const LoadConfig& cfg, std::uint64_t dict = 0);

  /// Delve's resolveParametricType: the real type of a generic function's type parameter
  /// `t` (a ".paramN" typedef, dict_index >= 0), read from the runtime type at entry
  /// dict_index of the dictionary at `dict`; the shape type (go.shape.int_0) when `dict` is
  /// 0 or the entry names no known type. Any other type is returned as is.
  const dwarf::Type* resolve_parametric(const dwarf::Type* t, std::uint64_t dict);

  /// Where Go's register ABI (ABIInternal, cmd/compile/abi-internal.md) puts result `result`
  /// of `fn` at a RET: integer words in RAX, RBX, RCX, RDI, RSI, R8-R11, floats in X0-X14,
  /// assigned result by result in declaration order. Optimized code often has no DWARF
  /// location for a result at the RET (dlv prints "(unreadable empty OP stack)"), yet the
  /// value is in those registers. Returns nullopt when the result does not fit in the
  /// remaining registers (the ABI then returns it on the stack) or has an unsupported type.
  /// The Variable carries kFlagReturnArgument | kFlagFakeAddress (like Delve's register
  /// values). `regs` must read DWARF numbers 0-16 and 17-32 (xmm low halves) at the RET.
  std::optional<Variable> load_result_from_abi_registers(const dwarf::Function& fn,
                                                         const dwarf::Variable& result,
                                                         const RegisterFn& regs,
                                                         const LoadConfig& cfg);

  /// Where `var` lives at `pc`: its memory address, or a fake address holding the bytes
  /// assembled from registers and pieces (*fake set to true). Throws nothing; on failure
  /// returns nullopt and sets *error to Delve's message ("empty OP stack", ...).
  std::optional<std::uint64_t> locate(const dwarf::Variable& var, std::uint64_t pc,
                                      std::uint64_t cfa, const RegisterFn& regs, bool* fake,
                                      std::string* error);

  /// Delve's loadValueInternal: fills `v` (name and addr already set) as a value of `type`
  /// read at v.addr, `recurse` levels deep.
  void load_into(Variable& v, const dwarf::Type* type, const LoadConfig& cfg, int recurse = 0);
  /// Makes `bytes` readable at a fresh fake address (for values that live in registers or
  /// were computed by the evaluator) and returns that address.
  std::uint64_t add_fake(std::vector<std::byte> bytes);
  bool is_fake(std::uint64_t addr) const;
  /// Reads tracee memory or fake bytes; false if unreadable.
  bool read(std::uint64_t addr, std::span<std::byte> out);
  /// Types the loader synthesizes (pointer to T, [n]T), owned by this loader.
  const dwarf::Type* pointer_to(const dwarf::Type* t);
  const dwarf::Type* array_of(const dwarf::Type* elem, std::uint64_t n);
  /// []elem (Delve's fakeSliceType), named "[]" + elem's name.
  const dwarf::Type* slice_of(const dwarf::Type* elem);
  /// A copy of `t` under another name (Delve's fake "byte" element of strings).
  const dwarf::Type* renamed(const dwarf::Type* t, std::string name);

 private:
  template <class T>
  std::optional<T> read_as(std::uint64_t addr);
  void load_value(Variable& v, const dwarf::Type* type, int recurse, const LoadConfig& cfg);
  void load_interface(Variable& v, const dwarf::Type* real, int recurse, const LoadConfig& cfg);
  void load_map(Variable& v, const dwarf::Type* real, int recurse, const LoadConfig& cfg);
  void load_chan(Variable& v, const dwarf::Type* real);
  void format_time(Variable& v, const dwarf::Type* real);
  std::string function_name_at(std::uint64_t pc) const;

  struct Fake {
    std::uint64_t base;
    std::vector<std::byte> bytes;
  };

  const BinaryInfo& bi_;
  MemoryFn mem_;
  bool location_text_ = true;
  /// Values assembled from registers/pieces live at fake addresses (Delve does the same,
  /// flag FakeAddress) so that nested loads read them like memory.
  std::vector<Fake> fakes_;
  std::uint64_t next_fake_ = 0;
  std::deque<dwarf::Type> synthesized_;
};

/// One register of a result under Go's register ABI: DWARF number (xmm0 is 17), and which
/// bytes of the value it holds.
struct AbiPiece {
  unsigned regno = 0;
  std::uint64_t offset = 0;
  unsigned size = 0;
};
/// Where result `result` of `fn` is at a RET under the register ABI (see
/// ValueLoader::load_result_from_abi_registers); nullopt when it is returned on the stack.
std::optional<std::vector<AbiPiece>> abi_result_registers(const dwarf::Function& fn,
                                                          const dwarf::Variable& result);

/// Delve's ConstDescr for the value `n` of the type named `type_name` given its constants
/// (`values`, sorted by value as DebugInfo::constants_of_type returns them): the matching
/// constant's name ("Green"), else the names of the single-bit constants that cover `n`
/// exactly ("FlagA|FlagC"), else "". Names lose the type's package prefix.
std::string const_descr(std::span<const dwarf::Constant* const> values, std::string_view type_name,
                        std::int64_t n);

/// Delve's formatTime of a time.Time with fields `wall` and `ext` in the zone named
/// `loc_name` (Location.name; "" for a nil loc): RFC 3339 ("2023-03-14T15:09:26Z"), followed
/// by ", +<ext>" when wall has the monotonic bit. Delve resolves the zone with
/// time.LoadLocation in the debugger: "Local" is the debugger's zone; "UTC", "" and names
/// LoadLocation cannot load (time.FixedZone's) print as UTC. Other IANA names print as UTC
/// here (goscope reads no tz database). "" when Delve leaves the value empty (huge ext).
std::string format_go_time(std::uint64_t wall, std::int64_t ext, const std::string& loc_name);

/// Delve's locationExpr.String for a variable's DWARF location at `pc` (`file_pc` is the
/// same pc as a file address): "[block] DW_OP_fbreg -0x18 " for a single expression,
/// "[<list offset>:<pc>] DW_OP_reg0(Rax) " for the location-list entry covering the pc, ""
/// when there is no location (or no entry covers the pc).
std::string location_text(const dwarf::LocationDesc& loc, std::uint64_t file_pc, std::uint64_t pc);

/// Go's strconv.FormatFloat(f, 'f', -1, bits): shortest round-trip digits, no exponent.
std::string format_go_float(double f, int bits);

}  // namespace goscope::target
