#pragma once
// ListGoroutines' filters and grouping (Delve 1.20.2 service/debugger FilterGoroutines,
// GroupGoroutines and rpc2 ListGoroutines), on api::Goroutine values: no process needed.
//
// Order of work, as dlv: the page [Start, Start+Count) is read first (Nextg comes from the
// unfiltered walk of allgs), then filtered, then grouped. So a filtered page may hold fewer
// than Count goroutines, even none, while Nextg says there are more.
#include <optional>
#include <string>
#include <vector>

#include "session/api.hpp"

namespace goscope::session {

/// Delve's formatLoc: "file:line in function", "?" for a location without a function.
std::string format_goroutine_loc(const api::Location& loc);

/// Delve's G.System: started in a runtime.* function other than runtime.main and
/// runtime.handleAsyncEvent (false when start_loc has no function).
bool is_system_goroutine(const api::Goroutine& g);

/// Delve's matchGoroutineFilter: one filter, Negated applied. Location kinds test whether
/// format_goroutine_loc(loc) contains arg (plain substring, case-sensitive); unknown kinds
/// and kGoroutineFieldNone are true (so false when negated).
bool goroutine_matches(const api::Goroutine& g, const api::GoroutineFilter& filter);
/// Every filter matches (true for none).
bool goroutine_matches(const api::Goroutine& g, const std::vector<api::GoroutineFilter>& filters);

/// Delve's FilterGoroutines: the goroutines matching every filter, order kept.
std::vector<api::Goroutine> filter_goroutines(std::vector<api::Goroutine> gs,
                                              const std::vector<api::GoroutineFilter>& filters);

/// The group key of a goroutine (Delve's GroupGoroutines): format_goroutine_loc of the chosen
/// location, "KEY=VALUE" for labels (VALUE "" when unset), "running=true|false",
/// "user=true|false", "" for kinds above kGoroutineUser.
std::string goroutine_group_key(const api::Goroutine& g, const api::GoroutineGrouping& grouping);

struct GroupedGoroutines {
  /// The members kept, group after group; inside a group in page order.
  std::vector<api::Goroutine> goroutines;
  /// nullopt when grouping.group_by is kGoroutineFieldNone (goroutines then is the input);
  /// otherwise groups sorted by name (byte order), possibly empty.
  std::optional<std::vector<api::GoroutineGroup>> groups;
  bool too_many_groups = false;  ///< groups beyond max_groups (> 0) were dropped
};

/// Delve's GroupGoroutines. A group keeps its first max_group_members goroutines and counts
/// all of them in total; with max_group_members <= 0 nothing is kept, and since dlv lists
/// only groups that kept a member, there are then no groups at all.
GroupedGoroutines group_goroutines(std::vector<api::Goroutine> gs,
                                   const api::GoroutineGrouping& grouping);

/// rpc2 ListGoroutines after the page is read: filter `page` then group it. `nextg` is the
/// page's Nextg, passed through unchanged.
api::GoroutineList list_goroutines(std::vector<api::Goroutine> page, int nextg,
                                   const std::vector<api::GoroutineFilter>& filters,
                                   const api::GoroutineGrouping& grouping);

}  // namespace goscope::session
