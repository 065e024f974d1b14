#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "dwarf/file_addr.hpp"

namespace goscope::dwarf {

struct LineRow {
  FileAddr addr;
  std::uint32_t file = 0;  ///< index into LineTable::files()
  std::uint32_t line = 0;
  bool is_stmt = false;
  bool prologue_end = false;
  bool end_sequence = false;
};

/// The line table of every compile unit. Built from parts (one per compile unit) that are
/// decoded when a lookup first needs them: a big binary's load does not wait for (or keep)
/// rows nobody asked for. Lookups answer as one table merged and sorted by address would.
/// Const members are safe to call from several threads.
class LineTable {
 public:
  /// One compile unit's rows, decoded on first need.
  struct Part {
    /// The unit's rows in program order (any order is fine).
    std::function<std::vector<LineRow>()> decode;
    /// Every file (index into files) the rows may name, so a file:line lookup decodes only
    /// the parts that can hold it.
    std::vector<std::uint32_t> files;
  };
  /// Code whose rows are all in one part (a function's [low_pc, high_pc)).
  struct PartRange {
    FileAddr low, high;
    std::uint32_t part = 0;
  };

  LineTable();
  /// Takes rows in any order (e.g. one CU after another) and sorts them by address; rows
  /// at the same address keep their relative order, end_sequence rows first.
  LineTable(std::vector<LineRow> rows, std::vector<std::string> files);
  /// Lazy: `ranges` say which part holds the rows of which code; a lookup outside them
  /// decodes every part.
  LineTable(std::vector<Part> parts, std::vector<PartRange> ranges, std::vector<std::string> files);
  LineTable(LineTable&&) noexcept;
  LineTable& operator=(LineTable&&) noexcept;
  ~LineTable();

  struct Location {
    std::string file;
    std::uint32_t line = 0;
  };
  /// file:line of the row covering `pc`.
  std::optional<Location> find(FileAddr pc) const;
  /// Addresses that begin statements of `file`:`line` (is_stmt rows); `file` may be a
  /// path suffix.
  std::vector<FileAddr> addresses_for(const std::string& file, std::uint32_t line) const;
  /// Whether some file of the table is `file`, matched as addresses_for() matches it.
  bool has_file(const std::string& file) const;
  /// The first prologue_end row in [low, high) — where Go's stack-growth check ends and a
  /// function-entry breakpoint belongs; nullopt if the compiler marked none.
  std::optional<FileAddr> prologue_end(FileAddr low, FileAddr high) const;
  /// The rows with low <= addr < high, in address order.
  std::span<const LineRow> rows_in(FileAddr low, FileAddr high) const;

  /// Every row, sorted by address (decodes every part).
  const std::vector<LineRow>& rows() const;
  const std::vector<std::string>& files() const { return files_; }
  /// How many parts have been decoded so far (for tests of the laziness).
  std::size_t parts_decoded() const;

 private:
  struct State;
  /// The sorted rows of the part holding [low, high), or nullptr when no single part does.
  const std::vector<LineRow>* part_rows(FileAddr low, FileAddr high) const;
  const std::vector<LineRow>& part(std::uint32_t index) const;

  std::vector<std::string> files_;
  std::unique_ptr<State> state_;
};

}  // namespace goscope::dwarf
