#include "target/value_loader.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>

#include "dwarf/error.hpp"
#include "dwarf/expr.hpp"
#include "target/binary_info.hpp"

namespace goscope::target {
namespace {

using dwarf::GoKind;

// Delve's fake address for values that live in registers (pkg/proc fakeAddressUnresolv).
constexpr std::uint64_t kFakeAddress = 0xbeed000000000000ULL;
// runtime/type.go: kindDirectIface marks types stored directly in the interface word.
constexpr std::uint8_t kKindDirectIface = 1 << 5;

bool is_int(GoKind k) {
  return k >= GoKind::int_ && k <= GoKind::int64;
}
bool is_uint(GoKind k) {
  return k >= GoKind::uint && k <= GoKind::uintptr;
}

// Delve's api.Variable.Kind collapses sized integers: every DWARF signed integer is
// reflect.Int and every unsigned one reflect.Uint (int32 shows kind 2, byte kind 7).
int api_kind(GoKind k) {
  if (is_int(k))
    return static_cast<int>(GoKind::int_);
  if (is_uint(k))
    return static_cast<int>(GoKind::uint);
  return static_cast<int>(k);
}

// Go 1.12+ map tophash sentinels (runtime/map.go): empty cells, evacuated buckets.
constexpr std::uint8_t kEmptyRest = 0;
constexpr std::uint8_t kEmptyOne = 1;
constexpr std::uint8_t kMinTopHash = 5;
constexpr int kMaxErrCount = 3;  // Delve's maxErrCount: stop after this many bad elements

// Delve's loadFullValue: what channel internals and pprof labels are loaded with.
constexpr LoadConfig kFullLoad{true, 1, 64, 64, -1};

std::string type_name(const dwarf::Type* t) {
  return t ? t->name : std::string();
}

std::uint64_t field_offset(const dwarf::Type* t, const char* name, std::uint64_t fallback) {
  if (!t)
    return fallback;
  const auto* f = t->resolved()->field(name);
  return f ? f->offset : fallback;
}

}  // namespace

std::string const_descr(std::span<const dwarf::Constant* const> values, std::string_view type_name,
                        std::int64_t n) {
  // constantsMap.Get: names lose the package of the type (packageName(typ.String()) + ".").
  std::string_view pkg;
  {
    const auto slash = type_name.rfind('/');
    const std::size_t from = slash == std::string_view::npos ? 0 : slash;
    if (const auto dot = type_name.find('.', from); dot != std::string_view::npos)
      pkg = type_name.substr(0, dot + 1);
  }
  auto short_name = [&](const std::string& name) {
    std::string_view s = name;
    if (!pkg.empty() && s.starts_with(pkg))
      s.remove_prefix(pkg.size());
    return std::string(s);
  };
  // constantType.describe: an exact match, else an OR of the single-bit constants that
  // covers the value completely.
  for (const dwarf::Constant* c : values) {
    if (c->value == n)
      return short_name(c->name);
  }
  if (n == 0)
    return {};
  std::string fields;
  for (const dwarf::Constant* c : values) {
    if (std::popcount(static_cast<std::uint64_t>(c->value)) != 1)
      continue;
    if ((n & c->value) != 0) {
      if (!fields.empty())
        fields += '|';
      fields += short_name(c->name);
      n &= ~c->value;
    }
  }
  return n == 0 ? fields : std::string();
}

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

void ValueLoader::format_time(Variable& v, const dwarf::Type* real) {
  // Delve's formatTime: from the loaded children wall, ext and loc (loc.name read in full).
  const Variable* wall = nullptr;
  const Variable* ext = nullptr;
  const Variable* loc = nullptr;
  for (const auto& c : v.children) {
    if (c.name == "wall")
      wall = &c;
    else if (c.name == "ext")
      ext = &c;
    else if (c.name == "loc")
      loc = &c;
  }
  if (!wall || !ext || !wall->unreadable.empty() || !ext->unreadable.empty() ||
      wall->value.empty() || ext->value.empty()) {
    return;
  }
  std::string loc_name;
  if (loc && loc->unreadable.empty()) {
    const dwarf::Field* lf = real->field("loc");
    const dwarf::Type* lt = lf && lf->type ? lf->type->resolved() : nullptr;
    const dwarf::Type* loc_struct = lt && lt->elem ? lt->elem->resolved() : nullptr;
    const dwarf::Field* nf = loc_struct ? loc_struct->field("name") : nullptr;
    if (auto p = read_as<std::uint64_t>(loc->addr); p && *p != 0 && nf) {
      auto data = read_as<std::uint64_t>(*p + nf->offset);
      auto len = read_as<std::int64_t>(*p + nf->offset + 8);
      if (data && len && *len > 0 && *len <= 64) {
        std::string name(static_cast<std::size_t>(*len), '\0');
        if (read(*data, std::as_writable_bytes(std::span(name.data(), name.size()))))
          loc_name = std::move(name);
      }
    }
  }
  try {
    v.value = format_go_time(std::stoull(wall->value), std::stoll(ext->value), loc_name);
  } catch (const std::exception&) {
  }
}

std::string location_text(const dwarf::LocationDesc& loc, std::uint64_t file_pc, std::uint64_t pc) {
  if (!loc.is_list) {
    if (loc.expr.empty() && !loc.present)
      return {};
    return "[block] " + dwarf::pretty_print_location(loc.expr);
  }
  auto expr = loc.at(dwarf::FileAddr(file_pc));
  if (!expr)
    return {};  // Delve: no loclist entry, no description
  char head[64];
  std::snprintf(head, sizeof head, "[%#llx:%#llx] ",
                static_cast<unsigned long long>(loc.list_offset),
                static_cast<unsigned long long>(pc));
  return head + dwarf::pretty_print_location(*expr);
}

std::string format_go_float(double f, int bits) {
  if (std::isnan(f))
    return "NaN";
  if (std::isinf(f))
    return f > 0 ? "+Inf" : "-Inf";
  std::array<char, 512> buf{};
  std::to_chars_result r;
  if (bits == 32) {
    r = std::to_chars(buf.data(), buf.data() + buf.size(), static_cast<float>(f),
                      std::chars_format::fixed);
  } else {
    r = std::to_chars(buf.data(), buf.data() + buf.size(), f, std::chars_format::fixed);
  }
  return std::string(buf.data(), r.ptr);
}

bool ValueLoader::read(std::uint64_t addr, std::span<std::byte> out) {
  for (const auto& f : fakes_) {
    if (addr >= f.base && addr + out.size() <= f.base + f.bytes.size()) {
      std::memcpy(out.data(), f.bytes.data() + (addr - f.base), out.size());
      return true;
    }
  }
  if (addr >= kFakeAddress)
    return false;  // a fake address we no longer (or never) had
  return mem_(addr, out);
}

bool ValueLoader::is_fake(std::uint64_t addr) const {
  return addr >= kFakeAddress;
}

std::uint64_t ValueLoader::add_fake(std::vector<std::byte> bytes) {
  if (next_fake_ == 0)
    next_fake_ = kFakeAddress;
  const std::uint64_t base = next_fake_;
  next_fake_ += (std::max<std::uint64_t>(bytes.size(), 1) + 15) & ~std::uint64_t{15};
  fakes_.push_back({base, std::move(bytes)});
  return base;
}

const dwarf::Type* ValueLoader::pointer_to(const dwarf::Type* t) {
  auto& p = synthesized_.emplace_back();
  p.kind = GoKind::ptr;
  p.size = 8;
  p.elem = t;
  p.name = "*" + type_name(t);
  return &p;
}

const dwarf::Type* ValueLoader::array_of(const dwarf::Type* elem, std::uint64_t n) {
  auto& a = synthesized_.emplace_back();
  a.kind = GoKind::array;
  a.elem = elem;
  a.count = n;
  a.size = n * (elem ? elem->resolved()->size : 0);
  a.name = "[" + std::to_string(n) + "]" + type_name(elem);
  return &a;
}

const dwarf::Type* ValueLoader::slice_of(const dwarf::Type* elem) {
  auto& s = synthesized_.emplace_back();
  s.kind = GoKind::slice;
  s.size = 24;
  s.elem = elem;
  s.name = "[]" + type_name(elem);
  return &s;
}

const dwarf::Type* ValueLoader::renamed(const dwarf::Type* t, std::string name) {
  auto& r = synthesized_.emplace_back(*t->resolved());
  r.name = std::move(name);
  r.is_typedef = false;
  return &r;
}

namespace {

void add_nil_complex_parts(Variable& v) {
  // api.ConvertVar gives a complex number its two parts even without a value ("nil").
  const auto k = static_cast<GoKind>(v.kind);
  if ((k != GoKind::complex64 && k != GoKind::complex128) || !v.children.empty())
    return;
  const int part = static_cast<int>(k == GoKind::complex64 ? GoKind::float32 : GoKind::float64);
  Variable re, im;
  re.name = "real";
  im.name = "imaginary";
  re.kind = im.kind = part;
  re.value = im.value = "nil";
  v.children = {std::move(re), std::move(im)};
  v.len = 2;
}

}  // namespace

void ValueLoader::load_into(Variable& v, const dwarf::Type* type, const LoadConfig& cfg,
                            int recurse) {
  load_value(v, type, recurse, cfg);
}

template <class T>
std::optional<T> ValueLoader::read_as(std::uint64_t addr) {
  T value{};
  if (!read(addr, std::as_writable_bytes(std::span(&value, 1))))
    return std::nullopt;
  return value;
}

std::string ValueLoader::function_name_at(std::uint64_t pc) const {
  const auto* fn = bi_.function_at(proc::VirtAddr(pc));
  return fn ? fn->name : std::string();
}

Variable ValueLoader::load(std::string name, const dwarf::Type* type, std::uint64_t addr,
                           const LoadConfig& cfg) {
  Variable v;
  v.name = std::move(name);
  v.addr = addr;
  load_value(v, type, 0, cfg);
  return v;
}

void ValueLoader::load_value(Variable& v, const dwarf::Type* type, int recurse,
                             const LoadConfig& cfg) {
  if (!type) {
    v.unreadable = "unknown type";
    return;
  }
  const dwarf::Type* real = type->resolved();
  v.type = type->name;
  v.real_type = real->name;
  v.kind = api_kind(real->kind);
  const auto addr = v.addr;
  auto fail = [&](const std::string& what) {
    v.unreadable = what;
    v.children.clear();
    add_nil_complex_parts(v);
  };
  // Delve's memory errors: ptrace's EIO for the process, "read out of bounds" beyond the
  // bytes of a register-assembled (fake address) value.
  auto read_error = [&](std::uint64_t a) -> std::string {
    return is_fake(a) ? "read out of bounds" : "input/output error";
  };
  auto unreadable_at = [&](std::uint64_t a) { fail(read_error(a)); };

  switch (real->kind) {
    case GoKind::bool_: {
      auto b = read_as<std::uint8_t>(addr);
      if (!b)
        return unreadable_at(addr);
      v.value = *b ? "true" : "false";
      return;
    }
    case GoKind::float32: {
      auto f = read_as<float>(addr);
      if (!f)
        return unreadable_at(addr);
      v.value = format_go_float(*f, 32);
      return;
    }
    case GoKind::float64: {
      auto f = read_as<double>(addr);
      if (!f)
        return unreadable_at(addr);
      v.value = format_go_float(*f, 64);
      return;
    }
    case GoKind::complex64:
    case GoKind::complex128: {
      const bool wide = real->kind == GoKind::complex128;
      const std::uint64_t half = wide ? 8 : 4;
      Variable re, im;
      re.name = "real";
      im.name = "imaginary";
      re.kind = im.kind = static_cast<int>(wide ? GoKind::float64 : GoKind::float32);
      if (wide) {
        auto a = read_as<double>(addr), b = read_as<double>(addr + half);
        if (!a || !b)
          return unreadable_at(addr);
        re.value = format_go_float(*a, 64);
        im.value = format_go_float(*b, 64);
      } else {
        auto a = read_as<float>(addr), b = read_as<float>(addr + half);
        if (!a || !b)
          return unreadable_at(addr);
        re.value = format_go_float(*a, 32);
        im.value = format_go_float(*b, 32);
      }
      v.len = 2;
      // api.ConvertVar's value: go/constant's complex String, "(re + imi)" with each part
      // printed as %.6g.
      {
        const double a = wide ? *read_as<double>(addr) : *read_as<float>(addr);
        const double b = wide ? *read_as<double>(addr + half) : *read_as<float>(addr + half);
        char buf[96];
        std::snprintf(buf, sizeof buf, "(%.6g + %.6gi)", a, b);
        v.value = buf;
      }
      v.children = {std::move(re), std::move(im)};
      return;
    }
    case GoKind::string: {
      // Delve's readStringInfo (length first), then readStringValue.
      const auto len_at = addr + field_offset(real, "len", 8);
      const auto data_at = addr + field_offset(real, "str", 0);
      auto len = read_as<std::int64_t>(len_at);
      if (!len)
        return fail("could not read string len " + read_error(len_at));
      if (*len < 0)
        return fail("invalid length: " + std::to_string(*len));
      auto data = read_as<std::uint64_t>(data_at);
      if (!data)
        return fail("could not read string pointer " + read_error(data_at));
      if (*data == 0) {
        // Delve's readStringInfo: a nil data pointer is the empty string whatever the
        // length says (e.g. an optimized caller frame whose `str` piece is optimized out).
        v.value = std::string();
        return;
      }
      v.base = *data;
      v.len = *len;
      const auto n = static_cast<std::size_t>(
          std::max<std::int64_t>(0, std::min<std::int64_t>(*len, cfg.max_string_len)));
      std::string s(n, '\0');
      if (n && !read(*data, std::as_writable_bytes(std::span(s.data(), n)))) {
        char at[40];
        std::snprintf(at, sizeof at, "%#llx", static_cast<unsigned long long>(*data));
        return fail(std::string("could not read string at ") + at + " due to " + read_error(*data));
      }
      v.value = std::move(s);
      return;
    }
    case GoKind::slice:
    case GoKind::array: {
      const dwarf::Type* elem = real->elem;
      std::uint64_t base = addr;
      if (real->kind == GoKind::slice) {
        auto data = read_as<std::uint64_t>(addr + field_offset(real, "array", 0));
        auto len = read_as<std::int64_t>(addr + field_offset(real, "len", 8));
        auto cap = read_as<std::int64_t>(addr + field_offset(real, "cap", 16));
        if (!data || !len || !cap)
          return unreadable_at(addr);
        base = *data;
        v.len = *len;
        v.cap = *cap;
        if (!elem) {
          // Go's DWARF names the element through the `array` field's pointer type.
          if (const auto* f = real->field("array"); f && f->type)
            elem = f->type->resolved()->elem;
        }
      } else {
        v.len = static_cast<std::int64_t>(real->count);
        v.cap = -1;  // Delve reports -1 for arrays
      }
      v.base = base;
      if (v.len < 0)
        return fail("Negative array length");
      if (base == 0 && v.len > 0)
        return fail("non-zero length array with nil base");
      // Delve's loadArrayValues loads elements whatever the recursion level (a struct
      // element beyond it then has no children).
      if (!elem)
        return;
      const auto n = std::min<std::int64_t>(v.len, cfg.max_array_values);
      const auto esize = elem->resolved()->size;
      int errors = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        Variable child;
        child.addr = base + static_cast<std::uint64_t>(i) * esize;
        load_value(child, elem, recurse + 1, cfg);
        if (!child.unreadable.empty())
          ++errors;
        v.children.push_back(std::move(child));
        if (errors > kMaxErrCount)
          break;
      }
      return;
    }
    case GoKind::struct_: {
      v.len = static_cast<std::int64_t>(real->fields.size());
      if (recurse > cfg.max_variable_recurse)
        return;
      for (const auto& f : real->fields) {
        if (cfg.max_struct_fields >= 0 &&
            static_cast<int>(v.children.size()) >= cfg.max_struct_fields) {
          break;
        }
        Variable child;
        child.name = f.name;
        child.addr = addr + f.offset;
        load_value(child, f.type, recurse + 1, cfg);
        v.children.push_back(std::move(child));
      }
      if (real->name == "time.Time")
        format_time(v, real);
      return;
    }
    case GoKind::ptr:
    case GoKind::unsafe_pointer: {
      // Delve's loadPtr: always one child (the pointee), value = its address in decimal.
      auto p = read_as<std::uint64_t>(addr);
      v.len = 1;
      Variable child;
      const dwarf::Type* elem = real->kind == GoKind::ptr ? real->elem : nullptr;
      if (!p) {
        unreadable_at(addr);
        child.unreadable = "parent pointer unreadable: " + v.unreadable;
        v.children.push_back(std::move(child));
        return;
      }
      child.addr = *p;
      v.value = std::to_string(*p);
      if (!elem) {
        // unsafe.Pointer (or *void): the pointee has no type, Delve says "void".
        child.type = child.real_type = "void";
        if (cfg.follow_pointers) {
          if (*p != 0)
            child.unreadable = "unknown or unsupported kind: \"invalid\"";
        } else {
          child.only_addr = true;
        }
        v.children.push_back(std::move(child));
        return;
      }
      child.type = type_name(elem);
      child.real_type = type_name(elem->resolved());
      child.kind = api_kind(elem->resolved()->kind);
      if (elem->resolved()->kind == GoKind::array) {
        // Delve's newVariable gives an array its length before any load (a nil pointer's
        // or an unfollowed pointer's pointee included).
        child.len = static_cast<std::int64_t>(elem->resolved()->count);
        child.cap = -1;
        child.base = child.addr;
      }
      if (cfg.follow_pointers) {
        if (*p != 0) {
          // Pointers do not add a recursion level, except to interfaces (cycles).
          const int next =
              child.kind == static_cast<int>(GoKind::interface) ? recurse + 1 : recurse;
          load_value(child, elem, next, cfg);
        }
      } else {
        child.only_addr = true;
      }
      v.children.push_back(std::move(child));
      return;
    }
    case GoKind::map:
      return load_map(v, real, recurse, cfg);
    case GoKind::interface:
      return load_interface(v, real, recurse, cfg);
    case GoKind::func: {
      // Delve's readFunctionPtr: the funcval is read through the variable's own memory, so
      // a func value assembled from registers cannot be followed ("read out of bounds").
      auto fv = read_as<std::uint64_t>(addr);
      if (!fv)
        return unreadable_at(addr);
      if (*fv == 0)
        return;
      if (is_fake(addr) && !is_fake(*fv))
        return fail("read out of bounds");
      auto entry = read_as<std::uint64_t>(*fv);
      if (!entry)
        return unreadable_at(*fv);
      v.base = *entry;
      v.value = function_name_at(*entry);
      if (v.value.empty()) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "could not find function for %#llx",
                      static_cast<unsigned long long>(*entry));
        v.unreadable = buf;
      }
      return;
    }
    case GoKind::chan:
      return load_chan(v, real);
    default:
      break;
  }
  if (is_int(real->kind) || is_uint(real->kind)) {
    std::uint64_t raw = 0;
    const auto size = std::min<std::uint64_t>(real->size ? real->size : 8, 8);
    if (!read(addr, std::as_writable_bytes(std::span(&raw, 1)).first(size))) {
      return unreadable_at(addr);
    }
    std::int64_t n = 0;
    if (is_int(real->kind)) {
      const unsigned shift = static_cast<unsigned>(64 - size * 8);
      n = static_cast<std::int64_t>(raw << shift) >> shift;
      v.value = std::to_string(n);
    } else {
      n = static_cast<std::int64_t>(raw);
      v.value = std::to_string(raw);
    }
    // Delve's ConstDescr (applied by api.ConvertVar): only for user-defined types.
    if ((v.flags & kFlagConstant) == 0 && type->name.find('.') != std::string::npos &&
        !type->name.starts_with("C.")) {
      const auto consts = bi_.debug().constants_of_type(type);
      if (!consts.empty()) {
        if (auto d = const_descr(consts, type->name, n); !d.empty())
          v.value = d + " (" + v.value + ")";
      }
    }
    return;
  }
  fail("unsupported type " + real->name);
}

void ValueLoader::load_interface(Variable& v, const dwarf::Type* real, int recurse,
                                 const LoadConfig& cfg) {
  // eface {_type, data}; iface {tab *itab, data}, itab._type at offset 8.
  const bool empty = real->field("_type") != nullptr;
  const auto first_off = field_offset(real, empty ? "_type" : "tab", 0);
  const auto data_off = field_offset(real, "data", 8);
  auto first = read_as<std::uint64_t>(v.addr + first_off);
  if (!first) {
    v.unreadable = "could not read interface";
    return;
  }
  Variable data;
  if (*first == 0) {
    // nil interface: Delve dereferences the data word as `void` (kind Invalid, no name).
    data.type = data.real_type = "void";
    data.addr = read_as<std::uint64_t>(v.addr + data_off).value_or(0);
    if (data.addr != 0)  // loadValueInternal of a void at a non-zero address
      data.unreadable = "unknown or unsupported kind: \"invalid\"";
    v.children.push_back(std::move(data));
    return;
  }
  data.name = "data";
  std::uint64_t rtype = *first;
  if (!empty) {
    auto t = read_as<std::uint64_t>(*first + 8);
    if (!t) {
      v.unreadable = "could not resolve interface type";
      return;
    }
    rtype = *t;
  }
  const dwarf::Type* dyn = bi_.debug().type_by_runtime_type(rtype - bi_.load_bias());
  if (!dyn) {
    v.unreadable = "could not resolve interface type";
    return;
  }
  const dwarf::Type* rt = bi_.debug().find_type("runtime._type");
  auto kind = read_as<std::uint8_t>(rtype + field_offset(rt, "kind", 23));
  const bool direct = kind && (*kind & kKindDirectIface);
  const auto data_addr = v.addr + data_off;
  if (!direct && dyn->resolved()->kind != GoKind::ptr) {
    // The data word points at the value: the child is the pointee itself.
    auto p = read_as<std::uint64_t>(data_addr);
    if (!p) {
      v.unreadable = "could not read interface data";
      return;
    }
    data.addr = *p;
  } else {
    data.addr = data_addr;
  }
  if (recurse <= cfg.max_variable_recurse) {
    load_value(data, dyn, recurse, cfg);
  } else {
    data.type = dyn->name;
    data.real_type = dyn->resolved()->name;
    data.kind = api_kind(dyn->resolved()->kind);
    data.only_addr = true;
  }
  v.children.push_back(std::move(data));
}

void ValueLoader::load_map(Variable& v, const dwarf::Type* real, int recurse,
                           const LoadConfig& cfg) {
  // A map variable is a pointer to runtime.hmap (DWARF: *hash<K,V>).
  auto h = read_as<std::uint64_t>(v.addr);
  if (!h) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "could not read %#llx", static_cast<unsigned long long>(v.addr));
    v.unreadable = buf;
    return;
  }
  v.base = *h;
  if (*h == 0)
    return;
  const dwarf::Type* hmap = real->underlying ? real->underlying->resolved() : nullptr;
  if (hmap && hmap->kind == GoKind::ptr && hmap->elem)
    hmap = hmap->elem->resolved();
  auto count = read_as<std::int64_t>(*h + field_offset(hmap, "count", 0));
  if (!count) {
    v.unreadable = "could not read map";
    return;
  }
  v.len = *count;
  // Beyond the recursion limit Delve loads only the length, so that clients know the map
  // is not empty.
  if (recurse > cfg.max_variable_recurse || v.len == 0 || cfg.max_array_values == 0)
    return;
  const auto* bfield = hmap ? hmap->field("buckets") : nullptr;
  if (!bfield || !bfield->type || !bfield->type->resolved()->elem) {
    v.unreadable = "malformed map type: buckets, oldbuckets or overflow field not a struct";
    return;
  }
  const dwarf::Type* bucket = bfield->type->resolved()->elem->resolved();
  const auto* tophash_f = bucket->field("tophash");
  const auto* keys_f = bucket->field("keys");
  const auto* values_f = bucket->field("values");
  const auto* overflow_f = bucket->field("overflow");
  if (!tophash_f || !keys_f || !values_f || !overflow_f) {
    v.unreadable = "malformed map type";
    return;
  }
  const dwarf::Type* key_t = keys_f->type->resolved()->elem;
  const dwarf::Type* val_t = values_f->type->resolved()->elem;
  const std::uint64_t slots = tophash_f->type->resolved()->count;
  const std::uint64_t ksize = key_t ? key_t->resolved()->size : 0;
  const std::uint64_t vsize = val_t ? val_t->resolved()->size : 0;
  auto b_log = read_as<std::uint8_t>(*h + field_offset(hmap, "B", 9));
  auto buckets = read_as<std::uint64_t>(*h + field_offset(hmap, "buckets", 16));
  auto oldbuckets = read_as<std::uint64_t>(*h + field_offset(hmap, "oldbuckets", 24));
  if (!b_log || !buckets || !oldbuckets) {
    v.unreadable = "could not read map";
    return;
  }
  const std::uint64_t nbuckets = std::uint64_t{1} << *b_log;
  const std::uint64_t oldmask = *b_log ? (std::uint64_t{1} << (*b_log - 1)) - 1 : 0;
  auto evacuated = [&](std::uint64_t b) {
    if (b == 0)
      return true;
    auto t0 = read_as<std::uint8_t>(b + tophash_f->offset);
    if (!t0)
      return true;
    return *t0 > kEmptyOne && *t0 < kMinTopHash;
  };
  int count_loaded = 0, errors = 0;
  auto visit_bucket = [&](std::uint64_t b) {
    // Returns false when enough entries were loaded.
    for (; b != 0; b = read_as<std::uint64_t>(b + overflow_f->offset).value_or(0)) {
      for (std::uint64_t i = 0; i < slots; ++i) {
        auto th = read_as<std::uint8_t>(b + tophash_f->offset + i);
        if (!th) {
          v.unreadable = "unreadable tophash";
          return false;
        }
        if (*th == kEmptyRest || *th == kEmptyOne)
          continue;
        Variable key, val;
        key.addr = b + keys_f->offset + i * ksize;
        val.addr = vsize ? b + values_f->offset + i * vsize : b + values_f->offset;
        load_value(key, key_t, recurse + 1, cfg);
        load_value(val, val_t, recurse + 1, cfg);
        if (!key.unreadable.empty() || !val.unreadable.empty())
          ++errors;
        v.children.push_back(std::move(key));
        v.children.push_back(std::move(val));
        ++count_loaded;
        if (errors > kMaxErrCount || count_loaded >= cfg.max_array_values ||
            count_loaded >= v.len) {
          return false;
        }
      }
    }
    return true;
  };
  const std::uint64_t bsize = bucket->size;
  for (std::uint64_t bidx = 0; bidx < nbuckets; ++bidx) {
    std::uint64_t b = *buckets + bidx * bsize;
    if (*oldbuckets != 0) {
      // Growing: an unevacuated old bucket holds the entries of two new buckets; visit it
      // once, from the first of them (runtime/map.go mapiternext, as Delve does).
      const std::uint64_t oldbidx = bidx & oldmask;
      const std::uint64_t oldb = *oldbuckets + oldbidx * bsize;
      if (!evacuated(oldb)) {
        if (oldbidx != bidx)
          continue;
        b = oldb;
      }
    }
    if (!visit_bucket(b))
      return;
  }
}

void ValueLoader::load_chan(Variable& v, const dwarf::Type* real) {
  // A chan variable is a pointer to runtime.hchan (DWARF: *hchan<T>); Delve shows the
  // hchan fields as children, always with loadFullValue, `buf` retyped as *[dataqsiz]T.
  auto c = read_as<std::uint64_t>(v.addr);
  if (!c) {
    v.unreadable = "could not read channel";
    return;
  }
  v.base = *c;
  if (*c == 0)
    return;
  const dwarf::Type* hchan = real->underlying ? real->underlying->resolved() : nullptr;
  if (hchan && hchan->kind == GoKind::ptr && hchan->elem)
    hchan = hchan->elem->resolved();
  if (!hchan || hchan->fields.size() < 2) {
    v.unreadable = "bad channel type";
    return;
  }
  auto dataqsiz = read_as<std::uint64_t>(*c + hchan->fields[1].offset);
  if (!dataqsiz) {
    v.unreadable = "unreadable length: could not read channel";
    return;
  }
  const dwarf::Type* buf_t = pointer_to(array_of(real->elem, *dataqsiz));
  v.len = static_cast<std::int64_t>(hchan->fields.size());
  for (const auto& f : hchan->fields) {
    Variable child;
    child.name = f.name;
    child.addr = *c + f.offset;
    load_value(child, f.name == "buf" ? buf_t : f.type, 1, kFullLoad);
    v.children.push_back(std::move(child));
  }
}

std::optional<std::uint64_t> ValueLoader::locate(const dwarf::Variable& var, std::uint64_t pc,
                                                 std::uint64_t cfa, const RegisterFn& regs,
                                                 bool* fake, std::string* error) {
  *fake = false;
  auto expr = var.location.at(dwarf::FileAddr(pc - bi_.load_bias()));
  if (!expr) {
    if (var.location.is_list) {
      // Delve's locationExpr: no entry of the list covers the pc.
      char buf[96];
      std::snprintf(buf, sizeof buf, "could not find loclist entry at %#llx for address %#llx",
                    static_cast<unsigned long long>(var.location.list_offset),
                    static_cast<unsigned long long>(pc));
      *error = buf;
    } else {
      *error = "empty OP stack";
    }
    return std::nullopt;
  }
  if (!var.location.present && !var.location.is_list) {
    // Delve's locationExpr: entry.Val(AttrLocation) == nil.
    *error = "no location attribute Location";
    return std::nullopt;
  }
  dwarf::ExprContext ctx;
  ctx.read_register = regs;
  ctx.read_memory = [this](std::uint64_t a, std::span<std::byte> out) { return mem_(a, out); };
  ctx.frame_base = cfa;
  ctx.cfa = cfa;
  ctx.static_base = bi_.load_bias();
  std::vector<dwarf::Piece> pieces;
  try {
    pieces = dwarf::evaluate_location(*expr, ctx);
  } catch (const dwarf::Error& e) {
    *error = e.what();
    return std::nullopt;
  }
  if (pieces.empty()) {
    *error = "empty OP stack";
    return std::nullopt;
  }
  if (pieces.size() == 1 && pieces[0].kind == dwarf::Piece::Kind::memory) {
    return pieces[0].address;
  }
  // Register-resident or split value: assemble its bytes and read it from a fake address.
  const std::uint64_t size = var.type ? var.type->resolved()->size : 8;
  std::vector<std::byte> bytes(std::max<std::uint64_t>(size, 8));
  std::uint64_t off = 0;
  for (const auto& p : pieces) {
    const std::uint64_t n = p.size ? p.size : size;
    if (off + n > bytes.size())
      bytes.resize(off + n);
    switch (p.kind) {
      case dwarf::Piece::Kind::reg: {
        auto r = regs(p.regno);
        if (!r) {
          *error = "register " + std::to_string(p.regno) + " unavailable";
          return std::nullopt;
        }
        std::memcpy(bytes.data() + off, &*r, std::min<std::uint64_t>(n, 8));
        break;
      }
      case dwarf::Piece::Kind::memory:
        if (!mem_(p.address, std::span(bytes.data() + off, n))) {
          *error = "could not read piece";
          return std::nullopt;
        }
        break;
      case dwarf::Piece::Kind::value:
        std::memcpy(bytes.data() + off, &p.value, std::min<std::uint64_t>(n, 8));
        break;
      case dwarf::Piece::Kind::implicit:
        std::memcpy(bytes.data() + off, p.bytes.data(), std::min<std::uint64_t>(n, p.bytes.size()));
        break;
      case dwarf::Piece::Kind::empty:
        break;
    }
    off += n;
  }
  *fake = true;
  return add_fake(std::move(bytes));
}

const dwarf::Type* ValueLoader::resolve_parametric(const dwarf::Type* t, std::uint64_t dict) {
  if (t == nullptr || t->dict_index < 0)
    return t;
  if (dict != 0) {
    const auto entry = dict + static_cast<std::uint64_t>(t->dict_index) * 8;
    if (auto rtype = read_as<std::uint64_t>(entry); rtype && *rtype != 0) {
      if (const auto* real = bi_.debug().type_by_runtime_type(*rtype - bi_.load_bias()))
        return real;
    }
  }
  return t->elem ? t->elem : t;
}

Variable ValueLoader::load_variable(const dwarf::Variable& var_in, std::uint64_t pc,
                                    std::uint64_t cfa, const RegisterFn& regs,
                                    const LoadConfig& cfg, std::uint64_t dict) {
  const dwarf::Variable* vp = &var_in;
  std::optional<dwarf::Variable> resolved;
  if (var_in.type && var_in.type->dict_index >= 0) {
    resolved = var_in;
    resolved->type = resolve_parametric(var_in.type, dict);
    vp = &*resolved;
  }
  const dwarf::Variable& var = *vp;
  Variable v;
  v.name = var.name;
  v.flags = var.is_result ? kFlagReturnArgument : (var.is_parameter ? kFlagArgument : 0);
  v.decl_line = var.decl_line;
  // Every register-resident variable shows Delve's one fake address.
  fakes_.clear();
  next_fake_ = 0;
  if (location_text_)
    v.location_expr = location_text(var.location, pc - bi_.load_bias(), pc);
  bool fake = false;
  std::string error;
  auto addr = locate(var, pc, cfa, regs, &fake, &error);
  if (!addr) {
    v.type = type_name(var.type);
    v.real_type = var.type ? type_name(var.type->resolved()) : std::string();
    v.kind = var.type ? api_kind(var.type->resolved()->kind) : 0;
    v.unreadable = std::move(error);
    add_nil_complex_parts(v);
    return v;
  }
  v.addr = *addr;
  if (fake)
    v.flags |= kFlagFakeAddress;
  load_value(v, var.type, 0, cfg);
  fakes_.clear();
  next_fake_ = 0;
  return v;
}

namespace {

// Go's register ABI on amd64 (abi-internal.md): integer registers in assignment order,
// as DWARF numbers: RAX, RBX, RCX, RDI, RSI, R8, R9, R10, R11.
constexpr std::array<unsigned, 9> kAbiIntRegs{0, 3, 2, 5, 4, 8, 9, 10, 11};
constexpr unsigned kAbiFloatRegs = 15;  // X0-X14
constexpr unsigned kDwarfXmm0 = 17;

// Register assignment of one value (abi-internal.md "Function call argument and result
// passing"): appends to `words` (int) or `floats` the register slots it takes; false if it
// cannot be register-assigned (then the whole value goes to the stack).
struct AbiSlot {
  bool is_float = false;
  unsigned size = 0;         // bytes of this slot (1-8)
  std::uint64_t offset = 0;  // offset in the value
};

bool abi_assign(const dwarf::Type* t, std::uint64_t offset, std::vector<AbiSlot>& out) {
  if (!t)
    return false;
  const dwarf::Type* r = t->resolved();
  switch (r->kind) {
    case GoKind::bool_:
    case GoKind::int_:
    case GoKind::int8:
    case GoKind::int16:
    case GoKind::int32:
    case GoKind::int64:
    case GoKind::uint:
    case GoKind::uint8:
    case GoKind::uint16:
    case GoKind::uint32:
    case GoKind::uint64:
    case GoKind::uintptr:
    case GoKind::ptr:
    case GoKind::unsafe_pointer:
    case GoKind::map:
    case GoKind::chan:
    case GoKind::func:
      out.push_back({false, static_cast<unsigned>(r->size ? r->size : 8), offset});
      return true;
    case GoKind::float32:
    case GoKind::float64:
      out.push_back({true, static_cast<unsigned>(r->size), offset});
      return true;
    case GoKind::complex64:
    case GoKind::complex128: {
      const unsigned half = static_cast<unsigned>(r->size / 2);
      out.push_back({true, half, offset});
      out.push_back({true, half, offset + half});
      return true;
    }
    case GoKind::string:
      out.push_back({false, 8, offset});
      out.push_back({false, 8, offset + 8});
      return true;
    case GoKind::slice:
      for (int i = 0; i < 3; ++i) out.push_back({false, 8, offset + 8 * i});
      return true;
    case GoKind::interface:
      out.push_back({false, 8, offset});
      out.push_back({false, 8, offset + 8});
      return true;
    case GoKind::array:
      if (r->count == 0)
        return true;
      if (r->count == 1)
        return abi_assign(r->elem, offset, out);
      return false;  // arrays of length > 1 are never register-assigned
    case GoKind::struct_:
      for (const auto& f : r->fields) {
        if (!abi_assign(f.type, offset + f.offset, out))
          return false;
      }
      return true;
    default:
      return false;
  }
}

}  // namespace

std::optional<std::vector<AbiPiece>> abi_result_registers(const dwarf::Function& fn,
                                                          const dwarf::Variable& result) {
  // Results are assigned registers afresh, from RAX and X0, in declaration order; a result
  // that does not fit takes no registers and goes to the stack.
  std::size_t next_int = 0, next_float = 0;
  for (const auto& p : fn.params) {
    if (!p.is_result)
      continue;
    std::vector<AbiSlot> slots;
    const bool ok = abi_assign(p.type, 0, slots);
    std::size_t ints = 0, floats = 0;
    for (const auto& s : slots) (s.is_float ? floats : ints)++;
    const bool fits =
        ok && next_int + ints <= kAbiIntRegs.size() && next_float + floats <= kAbiFloatRegs;
    if (&p != &result) {
      if (fits) {
        next_int += ints;
        next_float += floats;
      }
      continue;
    }
    if (!fits || !p.type)
      return std::nullopt;
    std::vector<AbiPiece> pieces;
    for (const auto& s : slots) {
      const unsigned regno =
          s.is_float ? kDwarfXmm0 + static_cast<unsigned>(next_float++) : kAbiIntRegs[next_int++];
      pieces.push_back({regno, s.offset, s.size});
    }
    return pieces;
  }
  return std::nullopt;
}

std::optional<Variable> ValueLoader::load_result_from_abi_registers(const dwarf::Function& fn,
                                                                    const dwarf::Variable& result,
                                                                    const RegisterFn& regs,
                                                                    const LoadConfig& cfg) {
  auto pieces = abi_result_registers(fn, result);
  if (!pieces || !result.type)
    return std::nullopt;
  std::vector<std::byte> bytes(std::max<std::uint64_t>(result.type->resolved()->size, 8));
  for (const auto& s : *pieces) {
    auto val = regs(s.regno);
    if (!val)
      return std::nullopt;
    std::memcpy(bytes.data() + s.offset, &*val, std::min<unsigned>(s.size, 8));
  }
  Variable v;
  v.name = result.name;
  v.flags = kFlagReturnArgument | kFlagFakeAddress;
  v.decl_line = result.decl_line;
  v.addr = add_fake(std::move(bytes));
  load_value(v, result.type, 0, cfg);
  return v;
}

}  // namespace goscope::target
