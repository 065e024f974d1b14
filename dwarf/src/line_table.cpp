#include "dwarf/line_table.hpp"

#include <algorithm>
#include <mutex>
#include <thread>

namespace goscope::dwarf {

namespace {

// An end_sequence row shares its address with the first row of the next sequence;
// ordering it first lets the next sequence's row win in find().
void sort_rows(std::vector<LineRow>& rows) {
  auto before = [](const LineRow& a, const LineRow& b) {
    if (a.addr != b.addr) {
      return a.addr < b.addr;
    }
    return a.end_sequence && !b.end_sequence;
  };
  if (!std::is_sorted(rows.begin(), rows.end(), before))
    std::stable_sort(rows.begin(), rows.end(), before);
}

// `f` (a line-table file) is `file`, or ends with it at a path component.
bool names_file(const std::string& f, const std::string& file) {
  return f == file || (!file.empty() && f.size() > file.size() && f.ends_with(file) &&
                       (file.front() == '/' || f[f.size() - file.size() - 1] == '/'));
}

std::optional<LineTable::Location> find_in(const std::vector<LineRow>& rows,
                                           const std::vector<std::string>& files, FileAddr pc,
                                           bool& before_first) {
  auto it = std::upper_bound(rows.begin(), rows.end(), pc,
                             [](FileAddr a, const LineRow& r) { return a < r.addr; });
  before_first = it == rows.begin();
  if (before_first) {
    return std::nullopt;
  }
  const LineRow& row = *std::prev(it);
  if (row.end_sequence || row.file >= files.size()) {
    return std::nullopt;
  }
  return LineTable::Location{files[row.file], row.line};
}

std::span<const LineRow> slice(const std::vector<LineRow>& rows, FileAddr low, FileAddr high) {
  auto first = std::lower_bound(rows.begin(), rows.end(), low,
                                [](const LineRow& r, FileAddr a) { return r.addr < a; });
  auto last = std::lower_bound(first, rows.end(), high,
                               [](const LineRow& r, FileAddr a) { return r.addr < a; });
  return {rows.data() + (first - rows.begin()), static_cast<std::size_t>(last - first)};
}

}  // namespace

struct LineTable::State {
  struct Slot {
    Part part;
    std::once_flag once;
    std::vector<LineRow> rows;  // sorted, valid once `once` ran
  };
  std::vector<std::unique_ptr<Slot>> slots;
  std::vector<PartRange> ranges;  // sorted by low
  std::once_flag merged_once;
  std::vector<LineRow> merged;
  mutable std::mutex count_mu;
  std::size_t decoded = 0;
};

LineTable::LineTable() : state_(std::make_unique<State>()) {}

LineTable::LineTable(std::vector<LineRow> rows, std::vector<std::string> files)
    : files_(std::move(files)), state_(std::make_unique<State>()) {
  sort_rows(rows);
  State& s = *state_;
  std::call_once(s.merged_once, [&] { s.merged = std::move(rows); });
}

LineTable::LineTable(std::vector<Part> parts, std::vector<PartRange> ranges,
                     std::vector<std::string> files)
    : files_(std::move(files)), state_(std::make_unique<State>()) {
  for (auto& p : parts) {
    auto slot = std::make_unique<State::Slot>();
    slot->part = std::move(p);
    state_->slots.push_back(std::move(slot));
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const PartRange& a, const PartRange& b) { return a.low < b.low; });
  state_->ranges = std::move(ranges);
}

LineTable::LineTable(LineTable&&) noexcept = default;
LineTable& LineTable::operator=(LineTable&&) noexcept = default;
LineTable::~LineTable() = default;

const std::vector<LineRow>& LineTable::part(std::uint32_t index) const {
  State::Slot& slot = *state_->slots[index];
  std::call_once(slot.once, [&] {
    slot.rows = slot.part.decode();
    sort_rows(slot.rows);
    std::lock_guard lock(state_->count_mu);
    ++state_->decoded;
  });
  return slot.rows;
}

std::size_t LineTable::parts_decoded() const {
  std::lock_guard lock(state_->count_mu);
  return state_->decoded;
}

const std::vector<LineRow>* LineTable::part_rows(FileAddr low, FileAddr high) const {
  const auto& ranges = state_->ranges;
  auto it = std::upper_bound(ranges.begin(), ranges.end(), low,
                             [](FileAddr a, const PartRange& r) { return a < r.low; });
  if (it == ranges.begin())
    return nullptr;
  const PartRange& r = *std::prev(it);
  if (low >= r.high || high > r.high)
    return nullptr;
  return &part(r.part);
}

const std::vector<LineRow>& LineTable::rows() const {
  State& s = *state_;
  std::call_once(s.merged_once, [&] {
    // Decode every part, on every core (each part is independent).
    const std::size_t n = s.slots.size();
    const unsigned workers =
        std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), 4));
    if (workers > 1 && n > 1) {
      std::vector<std::thread> pool;
      for (unsigned w = 1; w < workers; ++w) {
        pool.emplace_back([this, w, workers, n] {
          for (std::size_t i = w; i < n; i += workers) part(static_cast<std::uint32_t>(i));
        });
      }
      for (std::size_t i = 0; i < n; i += workers) part(static_cast<std::uint32_t>(i));
      for (auto& t : pool) t.join();
    }
    std::size_t total = 0;
    for (std::size_t i = 0; i < n; ++i) total += part(static_cast<std::uint32_t>(i)).size();
    std::vector<LineRow> all;
    all.reserve(total);
    for (std::size_t i = 0; i < n; ++i) {
      const auto& rows = part(static_cast<std::uint32_t>(i));
      all.insert(all.end(), rows.begin(), rows.end());
    }
    sort_rows(all);
    s.merged = std::move(all);
  });
  return s.merged;
}

std::optional<LineTable::Location> LineTable::find(FileAddr pc) const {
  bool before_first = false;
  if (const auto* rows = part_rows(pc, pc)) {
    auto loc = find_in(*rows, files_, pc, before_first);
    if (!before_first)
      return loc;
  }
  return find_in(rows(), files_, pc, before_first);
}

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
  auto scan = [&](const std::vector<LineRow>& rows) {
    for (const LineRow& r : rows) {
      if (r.line == line && r.is_stmt && !r.end_sequence && r.file < wanted.size() &&
          wanted[r.file]) {
        out.push_back(r.addr);
      }
    }
  };
  const State& s = *state_;
  if (s.slots.empty()) {
    scan(rows());
  } else {
    for (std::size_t i = 0; i < s.slots.size(); ++i) {
      const auto& names = s.slots[i]->part.files;
      if (std::any_of(names.begin(), names.end(),
                      [&](std::uint32_t f) { return f < wanted.size() && wanted[f]; })) {
        scan(part(static_cast<std::uint32_t>(i)));
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::span<const LineRow> LineTable::rows_in(FileAddr low, FileAddr high) const {
  if (const auto* rows = part_rows(low, high))
    return slice(*rows, low, high);
  return slice(rows(), low, high);
}

std::optional<FileAddr> LineTable::prologue_end(FileAddr low, FileAddr high) const {
  for (const LineRow& r : rows_in(low, high)) {
    if (r.prologue_end && !r.end_sequence) {
      return r.addr;
    }
  }
  return std::nullopt;
}

}  // namespace goscope::dwarf
