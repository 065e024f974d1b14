// Port of Delve 1.20.2's FilterGoroutines / GroupGoroutines (service/debugger/debugger.go).
#include "goroutine_query.hpp"

#include <algorithm>
#include <map>
#include <utility>

namespace goscope::session {

namespace {

const api::Location* field_location(const api::Goroutine& g, int kind) {
  switch (kind) {
    case api::kGoroutineCurrentLoc:
      return &g.current_loc;
    case api::kGoroutineUserLoc:
      return &g.user_current_loc;
    case api::kGoroutineGoLoc:
      return &g.go_statement_loc;
    case api::kGoroutineStartLoc:
      return &g.start_loc;
    default:
      return nullptr;
  }
}

std::string label_value(const api::Goroutine& g, const std::string& key) {
  const auto it = g.labels.find(key);
  return it == g.labels.end() ? std::string() : it->second;
}

}  // namespace

std::string format_goroutine_loc(const api::Location& loc) {
  std::string out = loc.file;
  out += ':';
  out += std::to_string(loc.line);
  out += " in ";
  out += loc.function ? loc.function->name : std::string("?");
  return out;
}

bool is_system_goroutine(const api::Goroutine& g) {
  if (!g.start_loc.function)
    return false;
  const std::string& name = g.start_loc.function->name;
  if (name == "runtime.main" || name == "runtime.handleAsyncEvent")
    return false;
  return name.rfind("runtime.", 0) == 0;
}

bool goroutine_matches(const api::Goroutine& g, const api::GoroutineFilter& filter) {
  bool val = true;  // kGoroutineFieldNone and unknown kinds
  if (const api::Location* loc = field_location(g, filter.kind)) {
    val = format_goroutine_loc(*loc).find(filter.arg) != std::string::npos;
  } else if (filter.kind == api::kGoroutineLabel) {
    const auto eq = filter.arg.find('=');
    if (eq != std::string::npos) {
      val = label_value(g, filter.arg.substr(0, eq)) == filter.arg.substr(eq + 1);
    } else {
      val = g.labels.count(filter.arg) != 0;
    }
  } else if (filter.kind == api::kGoroutineRunning) {
    val = g.thread_id != 0;
  } else if (filter.kind == api::kGoroutineUser) {
    val = !is_system_goroutine(g);
  }
  return filter.negated ? !val : val;
}

bool goroutine_matches(const api::Goroutine& g, const std::vector<api::GoroutineFilter>& filters) {
  return std::all_of(filters.begin(), filters.end(),
                     [&](const api::GoroutineFilter& f) { return goroutine_matches(g, f); });
}

std::vector<api::Goroutine> filter_goroutines(std::vector<api::Goroutine> gs,
                                              const std::vector<api::GoroutineFilter>& filters) {
  if (filters.empty())
    return gs;
  std::erase_if(gs, [&](const api::Goroutine& g) { return !goroutine_matches(g, filters); });
  return gs;
}

std::string goroutine_group_key(const api::Goroutine& g, const api::GoroutineGrouping& grouping) {
  if (const api::Location* loc = field_location(g, grouping.group_by)) {
    return format_goroutine_loc(*loc);
  }
  switch (grouping.group_by) {
    case api::kGoroutineLabel:
      return grouping.group_by_key + "=" + label_value(g, grouping.group_by_key);
    case api::kGoroutineRunning:
      return g.thread_id != 0 ? "running=true" : "running=false";
    case api::kGoroutineUser:
      return is_system_goroutine(g) ? "user=false" : "user=true";
    default:
      return {};
  }
}

GroupedGoroutines group_goroutines(std::vector<api::Goroutine> gs,
                                   const api::GoroutineGrouping& grouping) {
  GroupedGoroutines out;
  if (grouping.group_by == api::kGoroutineFieldNone) {
    out.goroutines = std::move(gs);
    return out;
  }
  struct Members {
    std::vector<api::Goroutine> kept;
    int total = 0;
  };
  // std::map orders keys as Go's sort.Strings does (bytewise, char_traits<char> compares
  // as unsigned char).
  std::map<std::string, Members> groups;
  for (auto& g : gs) {
    std::string key = goroutine_group_key(g, grouping);
    if (grouping.max_group_members > 0) {
      Members& m = groups[key];
      if (static_cast<int>(m.kept.size()) < grouping.max_group_members) {
        m.kept.push_back(std::move(g));
      }
      ++m.total;
    }
    // else: dlv creates a group only when a member is kept, so there is none.
  }
  out.groups.emplace();
  for (auto& [name, m] : groups) {
    if (grouping.max_groups > 0 && static_cast<int>(out.groups->size()) >= grouping.max_groups) {
      out.too_many_groups = true;
      break;
    }
    out.groups->push_back(api::GoroutineGroup{name, static_cast<int>(out.goroutines.size()),
                                              static_cast<int>(m.kept.size()), m.total});
    for (auto& g : m.kept) out.goroutines.push_back(std::move(g));
  }
  return out;
}

api::GoroutineList list_goroutines(std::vector<api::Goroutine> page, int nextg,
                                   const std::vector<api::GoroutineFilter>& filters,
                                   const api::GoroutineGrouping& grouping) {
  GroupedGoroutines grouped =
      group_goroutines(filter_goroutines(std::move(page), filters), grouping);
  api::GoroutineList out;
  out.goroutines = std::move(grouped.goroutines);
  out.nextg = nextg;
  out.groups = std::move(grouped.groups);
  out.too_many_groups = grouped.too_many_groups;
  return out;
}

}  // namespace goscope::session
