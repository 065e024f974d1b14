#pragma once
// The expression evaluator's private parts, shared by the eval*.cpp files: Delve's
// proc.Variable while an expression is evaluated (V) and the Evaluator (Delve's evalAST),
// whose members are defined by job:
//   eval_values.cpp      dispatch, loading values from memory, constructing values
//   eval_identifiers.cpp identifiers: locals, package variables, registers
//   eval_access.cpp      selectors, interfaces, index, reslice, *x and &x
//   eval_operators.cpp   unary and binary operators, comparisons
//   eval_calls.cpp       conversions and builtins
//   eval_api.cpp         the result as api.Variable
//   eval.cpp             Target::eval, Target::set_variable
#include <array>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dwarf/expr.hpp"
#include "eval_constants.hpp"
#include "go_expr_ast.hpp"
#include "target_impl.hpp"

namespace goscope::target::expr {

/// Delve's fakeAddressUnresolv: where a CPU register variable "lives".
constexpr std::uint64_t kFakeAddressUnresolv = 0xbeed000000000000ULL;

using dwarf::GoKind;

inline bool is_int(GoKind k) {
  return k >= GoKind::int_ && k <= GoKind::int64;
}

inline bool is_uint(GoKind k) {
  return k >= GoKind::uint && k <= GoKind::uintptr;
}

inline bool is_float(GoKind k) {
  return k == GoKind::float32 || k == GoKind::float64;
}

inline bool is_complex(GoKind k) {
  return k == GoKind::complex64 || k == GoKind::complex128;
}

inline std::string hex(std::uint64_t a) {
  char b[32];
  std::snprintf(b, sizeof b, "%#llx", static_cast<unsigned long long>(a));
  return b;
}

/// reflect.Kind's String.
std::string kind_string(GoKind k);

/// The kind Delve's newVariable gives a value of type `real`: every signed integer is
/// reflect.Int, every unsigned one reflect.Uint.
GoKind delve_kind(const dwarf::Type* real);

struct V;
using VPtr = std::shared_ptr<V>;

/// Delve's proc.Variable while an expression is evaluated.
struct V {
  std::string name;
  const dwarf::Type* type = nullptr;  // DwarfType; nullptr: an untyped constant (or nil)
  const dwarf::Type* real = nullptr;  // RealType (type->resolved() unless retyped by a cast)
  std::uint64_t addr = 0;             // 0: not in memory (computed)
  std::optional<Const> value;         // Delve's Value of a constant or computed value
  bool nil = false;                   // Delve's nilVariable
  bool has_bi = true;                 // false: made from a constant (Delve: no ConstDescr)
  std::uint16_t flags = 0;
  std::int64_t decl_line = 0;
  std::string location_expr;
  std::string unreadable;
  /// A reslice (addr 0): Delve's Base/Len/Cap, loaded through a fake slice header.
  std::optional<std::array<std::uint64_t, 3>> slice;
  /// Delve's pointerToVariable (&x) or a pointer made by a conversion from an integer
  /// ((*T)(n)): the loaded pointer's only child, unloaded (OnlyAddr).
  VPtr pointee;
  /// A value built without memory behind it ([]byte(s), a function), reported as is.
  std::shared_ptr<Variable> synth;
  /// Delve's mapSkip: m[n:] lists a map's entries from the n-th on.
  std::int64_t map_skip = 0;
  /// The kind newVariable gave the value, kept when a conversion only retypes it.
  std::optional<GoKind> kept_kind;
  /// A CPU register named in the expression (Delve's VariableCPURegister with v.reg): its
  /// bytes, little-endian as the thread holds them. Reported at Delve's fake address.
  std::shared_ptr<const std::vector<std::byte>> cpu_reg;

  GoKind kind() const {
    if (kept_kind)
      return *kept_kind;
    if (nil)
      return GoKind::ptr;
    if (synth)
      return static_cast<GoKind>(synth->kind);
    if (real)
      return delve_kind(real);
    if (!value)
      return GoKind::invalid;
    switch (value->k) {
      case Const::K::int_:
        return value->i > std::numeric_limits<std::int64_t>::max() ? GoKind::uint64 : GoKind::int_;
      case Const::K::float_:
        return GoKind::float64;
      case Const::K::complex_:
        return GoKind::complex128;
      case Const::K::string_:
        return GoKind::string;
      case Const::K::bool_:
        return GoKind::bool_;
    }
    return GoKind::invalid;
  }
  /// Delve's TypeString.
  std::string type_string() const {
    if (nil)
      return "nil";
    if (synth)
      return synth->type;
    if (!type)
      return kind_string(kind());
    return type->name;
  }
};

/// godwarf's type classes, from our Type (a typedef DIE is its own class).
enum class TClass {
  int_,
  uint,
  float_,
  complex_,
  bool_,
  string,
  ptr,
  struct_,
  slice,
  array,
  map,
  chan,
  func,
  interface,
  other
};
TClass tclass(const dwarf::Type* t);

/// godwarf's String of a resolved type (a StructType says "struct main.Point").
std::string real_string(const dwarf::Type* t);

/// The element type of a slice type (Go's DWARF names it through `array`'s pointer).
const dwarf::Type* slice_elem(const dwarf::Type* r);

/// Delve's sameType.
bool same_type(const dwarf::Type* a, const dwarf::Type* b);

constexpr LoadConfig kLoadFull{true, 1, 64, 64, -1};
constexpr std::uint64_t kMaxConvertLen = 1 << 20;

class Evaluator {
 public:
  Evaluator(Target::Impl& im, const Frame& f, ValueLoader& loader, const LoadConfig* cfg)
      : im_(im), f_(f), loader_(loader), cfg_(cfg) {}

  /// Delve's evalAST: the value of `n` (eval_values.cpp). Throws EvalError.
  V eval(const Node& n);

  // ---- eval_values.cpp: loading (Delve's loadValue) --------------------------------
  std::optional<Const> load(V& v, std::uint64_t max_str = 64);
  std::optional<Const> read_value(V& v, std::uint64_t max_str);
  void read(std::uint64_t addr, void* out, std::size_t n);
  std::uint64_t word(std::uint64_t addr);
  std::pair<std::uint64_t, std::int64_t> string_info(const V& v);
  bool array_info(const V& v, std::uint64_t& base, std::int64_t& len, std::int64_t& cap,
                  const dwarf::Type*& elem, std::uint64_t& stride);

  // ---- eval_values.cpp: constructors -----------------------------------------------
  static V constant(Const c);
  static V nil_variable();
  V computed(const dwarf::Type* t, Const c, bool has_bi);
  V current_g();
  V at(const dwarf::Type* t, std::uint64_t addr, std::string name = {});
  const dwarf::Type* byte_type();
  const dwarf::Type* find_type(const std::string& name);
  const dwarf::Type* find_type_expr(const Node& n);
  const dwarf::Type* array_type(std::uint64_t count, std::string elem);

  // ---- eval_identifiers.cpp: identifiers and globals -------------------------------
  V eval_ident(const std::string& name);
  std::optional<V> cpu_register(const std::string& name);
  std::optional<std::vector<std::byte>> register_bytes(const std::string& upper);
  V register_conversion(const V& xv, const std::string& typ);
  V local(const ScopeVar& e);
  V package_variable(const dwarf::Variable& g);
  static bool name_matches(const std::string& full, const std::string& name);
  std::optional<V> find_global_internal(const std::string& name);
  std::optional<V> find_global(const std::string& pkg, const std::string& name);
  /// Where the parts of a register-resident variable (at a fake address) live, so that an
  /// assignment can write them back (Delve's compositeMemory).
  struct Home {
    std::uint64_t base = 0, size = 0;
    std::vector<dwarf::Piece> pieces;
  };
  std::vector<Home> homes_;
  void remember_home(const dwarf::Variable& dv, std::uint64_t pc, const RegisterFn& regs,
                     std::uint64_t base);
  const Home* home_of(std::uint64_t addr) const;
  std::uint64_t dict();

  // ---- eval_access.cpp: selectors --------------------------------------------------
  V maybe_deref(const V& v);
  V eval_selector(const Node& n);
  V to_field(const V& v, const dwarf::Field& f);
  V struct_member(V v, const std::string& member);

  // ---- eval_access.cpp: interfaces -------------------------------------------------
  V interface_data(const V& v);
  V eval_type_assert(const Node& n);

  // ---- eval_access.cpp: index, reslice, deref, address-of --------------------------
  V eval_index(const Node& n);
  std::int64_t as_int(V& v);
  V map_access(const V& m, V& idx);
  V eval_reslice(const Node& n);
  V eval_deref(const Node& n);
  V eval_addr_of(const Node& n);

  // ---- eval_operators.cpp: operators -----------------------------------------------
  V eval_unary(const Node& n);
  void is_type(const V& v, const dwarf::Type* typ, GoKind kind, bool real = false);
  const dwarf::Type* negotiate_type(const std::string& op, V& xv, V& yv);
  void load_operand(V& v);
  V eval_binary(const Node& n);
  Variable loaded(const V& v, const LoadConfig& cfg);
  bool compare(const std::string& op, V& xv, V& yv);
  bool equal_loaded(const Variable& a, const Variable& b);
  std::uint64_t pointee_addr(const V& v);
  bool is_nil(const V& v);

  // ---- eval_calls.cpp: conversions and builtins ------------------------------------
  V eval_call(const Node& n);
  struct TypeNotFound : EvalError {
    using EvalError::EvalError;
  };
  V type_cast_or_error(const Node& n);
  V function_call(const Node& n);
  V len_cap(bool is_len, std::vector<V>& args, const Node& n);
  V complex_builtin(std::vector<V>& args, const Node& n);
  V real_imag(bool real, std::vector<V>& args, const Node& n);
  static bool cast_compatible(const dwarf::Type* a, const dwarf::Type* b);
  V type_cast(const Node& n);
  template <class Err>
  V to_string(V& argv, const dwarf::Type* styp, const Err& converr);
  V to_slice(const std::string& elem, V& argv, const std::string& argstr,
             const dwarf::Type* styp = nullptr);

  Target::Impl& im_;
  const Frame& f_;
  ValueLoader& loader_;
  const LoadConfig* cfg_;
  std::optional<std::uint64_t> dict_;
  const dwarf::Type* byte_ = nullptr;
  std::deque<dwarf::Type> fake_types_;
};

/// The value of an evaluated expression `name` as Delve's api.Variable, loaded with `cfg`
/// (eval_api.cpp).
Variable to_api(Evaluator& ev, ValueLoader& loader, const BinaryInfo& bi, const V& v,
                const std::string& name, const LoadConfig& cfg);

}  // namespace goscope::target::expr
