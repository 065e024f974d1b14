// Go's time.Time as Delve prints it: RFC 3339 text at the offset of the value's Location,
// with Go's time.LoadLocation reimplemented over the host's tz database (TZif files,
// including the POSIX TZ rule of their footer). ValueLoader::format_time reads the fields.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "target/value_loader.hpp"

namespace goscope::target {

namespace {

// Howard Hinnant's days_from_civil inverse: the proleptic Gregorian date of `days` since
// 1970-01-01.
void civil_from_days(std::int64_t days, std::int64_t& y, unsigned& m, unsigned& d) {
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2)
    ++y;
}

// Go's t.Format(time.RFC3339) of the instant `unix` seconds shown at UTC offset `offset`.
std::string rfc3339(std::int64_t unix, int offset) {
  const std::int64_t local = unix + offset;
  std::int64_t days = local / 86400;
  std::int64_t secs = local % 86400;
  if (secs < 0) {
    secs += 86400;
    --days;
  }
  std::int64_t y = 0;
  unsigned m = 0, d = 0;
  civil_from_days(days, y, m, d);
  char buf[96];
  const char* sign = y < 0 ? "-" : "";
  int n = std::snprintf(buf, sizeof buf, "%s%04lld-%02u-%02uT%02d:%02d:%02d", sign,
                        static_cast<long long>(y < 0 ? -y : y), m, d, static_cast<int>(secs / 3600),
                        static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60));
  if (offset == 0) {
    std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), "Z");
  } else {
    const int a = offset < 0 ? -offset : offset;
    std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), "%c%02d:%02d",
                  offset < 0 ? '-' : '+', a / 3600, a / 60 % 60);
  }
  return buf;
}

// ---- time zones: Go's time.LoadLocation over the host's tz database (TZif files) ------

constexpr std::int64_t kSecondsPerDay = 86400;

bool is_leap(std::int64_t y) {
  return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

/// A rule of a POSIX TZ string (Go's time.rule).
struct TzRule {
  enum Kind { julian, doy, month_week_day } kind = julian;
  int day = 0, week = 0, mon = 0;
  int time = 7200;
};

/// Go's tzsetName.
bool tzset_name(std::string_view& s, std::string& name) {
  if (s.empty())
    return false;
  if (s[0] != '<') {
    for (std::size_t i = 0; i < s.size(); ++i) {
      const char c = s[i];
      if ((c >= '0' && c <= '9') || c == ',' || c == '-' || c == '+') {
        if (i < 3)
          return false;
        name = std::string(s.substr(0, i));
        s.remove_prefix(i);
        return true;
      }
    }
    if (s.size() < 3)
      return false;
    name = std::string(s);
    s = {};
    return true;
  }
  const auto close = s.find('>');
  if (close == std::string_view::npos)
    return false;
  name = std::string(s.substr(1, close - 1));
  s.remove_prefix(close + 1);
  return true;
}

bool tzset_num(std::string_view& s, int min, int max, int& out) {
  if (s.empty())
    return false;
  int n = 0;
  std::size_t i = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    n = n * 10 + (s[i] - '0');
    if (n > max)
      return false;
  }
  if (i == 0 || n < min)
    return false;
  s.remove_prefix(i);
  out = n;
  return true;
}

/// Go's tzsetOffset: [+-]hh[:mm[:ss]] in seconds.
bool tzset_offset(std::string_view& s, int& off) {
  if (s.empty())
    return false;
  bool neg = false;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  int hours = 0;
  if (!tzset_num(s, 0, 24 * 7, hours))
    return false;
  off = hours * 3600;
  if (!s.empty() && s[0] == ':') {
    s.remove_prefix(1);
    int mins = 0;
    if (!tzset_num(s, 0, 59, mins))
      return false;
    off += mins * 60;
    if (!s.empty() && s[0] == ':') {
      s.remove_prefix(1);
      int secs = 0;
      if (!tzset_num(s, 0, 59, secs))
        return false;
      off += secs;
    }
  }
  if (neg)
    off = -off;
  return true;
}

/// Go's tzsetRule.
bool tzset_rule(std::string_view& s, TzRule& r) {
  if (s.empty())
    return false;
  if (s[0] == 'J') {
    s.remove_prefix(1);
    r.kind = TzRule::julian;
    if (!tzset_num(s, 1, 365, r.day))
      return false;
  } else if (s[0] == 'M') {
    s.remove_prefix(1);
    r.kind = TzRule::month_week_day;
    if (!tzset_num(s, 1, 12, r.mon) || s.empty() || s[0] != '.')
      return false;
    s.remove_prefix(1);
    if (!tzset_num(s, 1, 5, r.week) || s.empty() || s[0] != '.')
      return false;
    s.remove_prefix(1);
    if (!tzset_num(s, 0, 6, r.day))
      return false;
  } else {
    r.kind = TzRule::doy;
    if (!tzset_num(s, 0, 365, r.day))
      return false;
  }
  r.time = 7200;
  if (!s.empty() && s[0] == '/') {
    s.remove_prefix(1);
    int t = 0;
    if (!tzset_offset(s, t))
      return false;
    r.time = t;
  }
  return true;
}

/// Go's tzruleTime: seconds since the start of `year` (UTC) when rule `r` takes effect.
std::int64_t tzrule_time(std::int64_t year, const TzRule& r, int off) {
  static const int kDaysBefore[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365};
  std::int64_t s = 0;
  switch (r.kind) {
    case TzRule::julian:
      s = static_cast<std::int64_t>(r.day - 1) * kSecondsPerDay;
      if (is_leap(year) && r.day >= 60)
        s += kSecondsPerDay;
      break;
    case TzRule::doy:
      s = static_cast<std::int64_t>(r.day) * kSecondsPerDay;
      break;
    case TzRule::month_week_day: {
      const int m1 = (r.mon + 9) % 12 + 1;
      std::int64_t yy0 = year;
      if (r.mon <= 2)
        --yy0;
      const std::int64_t yy1 = yy0 / 100, yy2 = yy0 % 100;
      std::int64_t dow = ((26 * m1 - 2) / 10 + 1 + yy2 + yy2 / 4 + yy1 / 4 - 2 * yy1) % 7;
      if (dow < 0)
        dow += 7;
      std::int64_t d = r.day - dow;
      if (d < 0)
        d += 7;
      const int days_in =
          kDaysBefore[r.mon] - kDaysBefore[r.mon - 1] + (r.mon == 2 && is_leap(year) ? 1 : 0);
      for (int i = 1; i < r.week; ++i) {
        if (d + 7 >= days_in)
          break;
        d += 7;
      }
      d += kDaysBefore[r.mon - 1];
      if (is_leap(year) && r.mon > 2)
        ++d;
      s = d * kSecondsPerDay;
      break;
    }
  }
  return s + r.time - off;
}

/// Go's tzset: the offset the POSIX TZ string `spec` gives at `sec`; nullopt if malformed.
std::optional<int> tzset_offset_at(std::string_view spec, std::int64_t sec) {
  std::string std_name, dst_name;
  int std_off = 0, dst_off = 0;
  if (!tzset_name(spec, std_name) || !tzset_offset(spec, std_off))
    return std::nullopt;
  std_off = -std_off;
  if (spec.empty() || spec[0] == ',')
    return std_off;
  if (!tzset_name(spec, dst_name))
    return std::nullopt;
  if (spec.empty() || spec[0] == ',') {
    dst_off = std_off + 3600;
  } else {
    if (!tzset_offset(spec, dst_off))
      return std::nullopt;
    dst_off = -dst_off;
  }
  std::string_view rules = spec;
  if (rules.empty())
    rules = ",M3.2.0,M11.1.0";
  if (rules[0] != ',' && rules[0] != ';')
    return std::nullopt;
  rules.remove_prefix(1);
  TzRule start, end;
  if (!tzset_rule(rules, start) || rules.empty() || rules[0] != ',')
    return std::nullopt;
  rules.remove_prefix(1);
  if (!tzset_rule(rules, end) || !rules.empty())
    return std::nullopt;
  // The UTC year of `sec` and the seconds since its start.
  std::int64_t days = sec / kSecondsPerDay;
  if (sec % kSecondsPerDay < 0)
    --days;
  std::int64_t year = 0;
  unsigned month = 0, mday = 0;
  civil_from_days(days, year, month, mday);
  const std::int64_t ysec = sec - days_from_civil(year, 1, 1) * kSecondsPerDay;
  std::int64_t start_sec = tzrule_time(year, start, std_off);
  std::int64_t end_sec = tzrule_time(year, end, dst_off);
  if (end_sec < start_sec) {
    std::swap(start_sec, end_sec);
    std::swap(std_off, dst_off);
  }
  if (ysec < start_sec || ysec >= end_sec)
    return std_off;
  return dst_off;
}

/// A zone loaded from a TZif file, as Go's LoadLocationFromTZData keeps it.
struct TzZone {
  struct Type {
    int offset = 0;
    bool dst = false;
  };
  std::vector<Type> types;
  std::vector<std::pair<std::int64_t, std::uint8_t>> tx;  // (when, type index)
  std::string extend;

  /// Go's lookupFirstZone.
  std::size_t first_zone() const {
    const bool used =
        std::any_of(tx.begin(), tx.end(), [](const auto& t) { return t.second == 0; });
    if (!used)
      return 0;
    if (!tx.empty() && types[tx[0].second].dst) {
      for (int zi = static_cast<int>(tx[0].second) - 1; zi >= 0; --zi) {
        if (!types[static_cast<std::size_t>(zi)].dst)
          return static_cast<std::size_t>(zi);
      }
    }
    for (std::size_t zi = 0; zi < types.size(); ++zi) {
      if (!types[zi].dst)
        return zi;
    }
    return 0;
  }

  /// Go's Location.lookup: the offset at `sec`.
  int offset_at(std::int64_t sec) const {
    if (types.empty())
      return 0;
    if (tx.empty() || sec < tx[0].first)
      return types[first_zone()].offset;
    std::size_t lo = 0, hi = tx.size();
    while (hi - lo > 1) {
      const std::size_t m = lo + (hi - lo) / 2;
      if (sec < tx[m].first)
        hi = m;
      else
        lo = m;
    }
    int off = types[tx[lo].second].offset;
    if (lo == tx.size() - 1 && !extend.empty()) {
      if (auto e = tzset_offset_at(extend, sec))
        off = *e;
    }
    return off;
  }
};

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

/// Go's LoadLocationFromTZData; nullopt for data it rejects.
std::optional<TzZone> parse_tzif(const std::string& data) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t n = data.size(), at = 0;
  auto header = [&](std::uint32_t c[6], char& version) {
    if (n - at < 44 || data.compare(at, 4, "TZif") != 0)
      return false;
    version = data[at + 4];
    for (int i = 0; i < 6; ++i) c[i] = be32(p + at + 20 + 4 * i);
    at += 44;
    return true;
  };
  std::uint32_t c[6];  // isutcnt isstdcnt leapcnt timecnt typecnt charcnt
  char version = 0;
  if (!header(c, version))
    return std::nullopt;
  bool wide = false;
  if (version != 0) {
    const std::size_t skip =
        std::size_t{c[3]} * 5 + std::size_t{c[4]} * 6 + c[5] + std::size_t{c[2]} * 8 + c[1] + c[0];
    if (n - at < skip)
      return std::nullopt;
    at += skip;
    if (!header(c, version))
      return std::nullopt;
    wide = true;
  }
  const std::size_t tsize = wide ? 8 : 4;
  const std::size_t need = std::size_t{c[3]} * tsize + c[3] + std::size_t{c[4]} * 6 + c[5] +
                           std::size_t{c[2]} * (tsize + 4) + c[1] + c[0];
  if (n - at < need || c[4] == 0)
    return std::nullopt;
  TzZone z;
  const unsigned char* times = p + at;
  const unsigned char* idx = times + std::size_t{c[3]} * tsize;
  const unsigned char* types = idx + c[3];
  for (std::uint32_t i = 0; i < c[4]; ++i) {
    const unsigned char* t = types + 6 * i;
    z.types.push_back({static_cast<std::int32_t>(be32(t)), t[4] != 0});
  }
  for (std::uint32_t i = 0; i < c[3]; ++i) {
    std::int64_t when = 0;
    if (wide) {
      const std::uint64_t hi = be32(times + 8 * i), lo = be32(times + 8 * i + 4);
      when = static_cast<std::int64_t>((hi << 32) | lo);
    } else {
      when = static_cast<std::int32_t>(be32(times + 4 * i));
    }
    if (idx[i] >= z.types.size())
      return std::nullopt;
    z.tx.emplace_back(when, idx[i]);
  }
  at += need;
  if (wide && at + 1 < n && data[at] == '\n') {
    const auto end = data.find('\n', at + 1);
    if (end != std::string::npos)
      z.extend = data.substr(at + 1, end - at - 1);
  }
  if (z.tx.empty())
    z.tx.emplace_back(std::numeric_limits<std::int64_t>::min(), 0);
  return z;
}

/// Go's time.LoadLocation(name) on this host ($ZONEINFO, then the system tz directories);
/// nullptr where Go's fails (the value then prints as UTC). Cached.
const TzZone* load_zone(const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, std::optional<TzZone>> cache;
  std::lock_guard lock(mu);
  if (auto it = cache.find(name); it != cache.end())
    return it->second ? &*it->second : nullptr;
  std::optional<TzZone> zone;
  // Go's containsDotDot and absolute-path checks.
  const bool bad =
      name.empty() || name[0] == '/' || name[0] == '\\' || name.find("..") != std::string::npos;
  if (!bad) {
    std::vector<std::string> dirs;
    if (const char* zi = std::getenv("ZONEINFO"); zi && *zi)
      dirs.emplace_back(zi);
    for (const char* d :
         {"/usr/share/zoneinfo/", "/usr/share/lib/zoneinfo/", "/usr/lib/locale/TZ/"})
      dirs.emplace_back(d);
    for (auto dir : dirs) {
      if (!dir.empty() && dir.back() != '/')
        dir += '/';
      std::FILE* f = std::fopen((dir + name).c_str(), "rb");
      if (!f)
        continue;
      std::string data;
      char buf[4096];
      for (std::size_t r; (r = std::fread(buf, 1, sizeof buf, f)) > 0;) data.append(buf, r);
      std::fclose(f);
      zone = parse_tzif(data);
      if (zone)
        break;
    }
  }
  auto& slot = cache[name];
  slot = std::move(zone);
  return slot ? &*slot : nullptr;
}

// The UTC offset of the zone Delve's time.LoadLocation(name) gives at `unix`: UTC for "",
// "UTC" and names it cannot load; the debugger's own zone for "Local"; otherwise the zone
// read from the host's tz database, as Go reads it.
int zone_offset(const std::string& loc_name, std::int64_t unix) {
  if (loc_name.empty() || loc_name == "UTC")
    return 0;
  if (loc_name == "Local") {
    const auto t = static_cast<std::time_t>(unix);
    std::tm tm{};
    if (localtime_r(&t, &tm) == nullptr)
      return 0;
    return static_cast<int>(tm.tm_gmtoff);
  }
  const TzZone* z = load_zone(loc_name);
  return z ? z->offset_at(unix) : 0;
}

}  // namespace

std::string format_go_time(std::uint64_t wall, std::int64_t ext, const std::string& loc_name) {
  constexpr std::uint64_t kHasMonotonic = 1ULL << 63;
  constexpr unsigned kWallNsecShift = 30;
  constexpr std::int64_t kUnixOfWallEpoch = -2682288000;  // 1 Jan 1885
  constexpr std::int64_t kUnixOfYear1 = -62135596800;     // 1 Jan year 1
  constexpr std::int64_t kMaxAddSeconds = std::numeric_limits<std::int64_t>::max() / 1000000000;
  if ((wall & kHasMonotonic) != 0) {
    const auto sec = static_cast<std::int64_t>(wall << 1 >> (kWallNsecShift + 1));
    const std::int64_t unix = sec + kUnixOfWallEpoch;
    char mono[32];
    std::snprintf(mono, sizeof mono, ", %+lld", static_cast<long long>(ext));
    return rfc3339(unix, zone_offset(loc_name, unix)) + mono;
  }
  if (ext > kMaxAddSeconds * 1000)
    return {};  // Delve leaves the value empty rather than loop
  const std::int64_t unix = ext + kUnixOfYear1;
  return rfc3339(unix, zone_offset(loc_name, unix));
}

}  // namespace goscope::target
