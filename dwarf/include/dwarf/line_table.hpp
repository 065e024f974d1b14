#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
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

/// The merged line table of every compile unit, sorted by address.
class LineTable {
 public:
  LineTable() = default;
  /// Takes rows in any order (e.g. one CU after another) and sorts them by address; rows
  /// at the same address keep their relative order, end_sequence rows first.
  LineTable(std::vector<LineRow> rows, std::vector<std::string> files);

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
  /// Indexes into rows() of the rows with low <= addr < high (in address order).
  std::pair<std::size_t, std::size_t> rows_in(FileAddr low, FileAddr high) const;

  const std::vector<LineRow>& rows() const { return rows_; }
  const std::vector<std::string>& files() const { return files_; }

 private:
  std::vector<LineRow> rows_;
  std::vector<std::string> files_;
};

}  // namespace goscope::dwarf
