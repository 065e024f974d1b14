#include "dwarf/line_table.hpp"

#include <algorithm>

namespace goscope::dwarf {

LineTable::LineTable(std::vector<LineRow> rows, std::vector<std::string> files)
    : rows_(std::move(rows)), files_(std::move(files)) {
  // An end_sequence row shares its address with the first row of the next sequence;
  // ordering it first lets the next sequence's row win in find().
  std::stable_sort(rows_.begin(), rows_.end(), [](const LineRow& a, const LineRow& b) {
    if (a.addr != b.addr) {
      return a.addr < b.addr;
    }
    return a.end_sequence && !b.end_sequence;
  });
}

std::optional<LineTable::Location> LineTable::find(FileAddr pc) const {
  auto it = std::upper_bound(rows_.begin(), rows_.end(), pc,
                             [](FileAddr a, const LineRow& r) { return a < r.addr; });
  if (it == rows_.begin()) {
    return std::nullopt;
  }
  const LineRow& row = *std::prev(it);
  if (row.end_sequence || row.file >= files_.size()) {
    return std::nullopt;
  }
  return Location{files_[row.file], row.line};
}

namespace {

// `f` (a line-table file) is `file`, or ends with it at a path component.
bool names_file(const std::string& f, const std::string& file) {
  return f == file || (!file.empty() && f.size() > file.size() && f.ends_with(file) &&
                       (file.front() == '/' || f[f.size() - file.size() - 1] == '/'));
}

}  // namespace

bool LineTable::has_file(const std::string& file) const {
  return !file.empty() && std::any_of(files_.begin(), files_.end(),
                                      [&](const std::string& f) { return names_file(f, file); });
}

std::vector<FileAddr> LineTable::addresses_for(const std::string& file, std::uint32_t line) const {
  std::vector<bool> wanted(files_.size());
  bool any = false;
  for (std::size_t i = 0; i < files_.size(); ++i) {
    wanted[i] = names_file(files_[i], file);
    any = any || wanted[i];
  }
  std::vector<FileAddr> out;
  if (!any || file.empty()) {
    return out;
  }
  for (const LineRow& r : rows_) {
    if (r.line == line && r.is_stmt && !r.end_sequence && r.file < wanted.size() &&
        wanted[r.file] && (out.empty() || out.back() != r.addr)) {
      out.push_back(r.addr);
    }
  }
  return out;
}

std::pair<std::size_t, std::size_t> LineTable::rows_in(FileAddr low, FileAddr high) const {
  auto first = std::lower_bound(rows_.begin(), rows_.end(), low,
                                [](const LineRow& r, FileAddr a) { return r.addr < a; });
  auto last = std::lower_bound(first, rows_.end(), high,
                               [](const LineRow& r, FileAddr a) { return r.addr < a; });
  return {static_cast<std::size_t>(first - rows_.begin()),
          static_cast<std::size_t>(last - rows_.begin())};
}

std::optional<FileAddr> LineTable::prologue_end(FileAddr low, FileAddr high) const {
  auto [first, last] = rows_in(low, high);
  for (std::size_t i = first; i < last; ++i) {
    if (rows_[i].prologue_end && !rows_[i].end_sequence) {
      return rows_[i].addr;
    }
  }
  return std::nullopt;
}

}  // namespace goscope::dwarf
