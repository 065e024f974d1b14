#include "target/build_info.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace goscope::target {

namespace path {

// Go's path.Clean: the shortest equivalent path by purely lexical processing.
std::string clean(const std::string& p) {
  if (p.empty())
    return ".";
  const bool rooted = p[0] == '/';
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (i < p.size()) {
    std::size_t j = p.find('/', i);
    if (j == std::string::npos)
      j = p.size();
    const std::string elem = p.substr(i, j - i);
    i = j + 1;
    if (elem.empty() || elem == ".")
      continue;
    if (elem == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back(elem);
      }
      continue;
    }
    parts.push_back(elem);
  }
  std::string out = rooted ? "/" : "";
  for (std::size_t k = 0; k < parts.size(); ++k) {
    if (k > 0)
      out += '/';
    out += parts[k];
  }
  return out.empty() ? "." : out;
}

// Go's filepath.Join of two elements: empty elements are ignored.
std::string join(const std::string& a, const std::string& b) {
  if (a.empty() && b.empty())
    return "";
  if (a.empty())
    return clean(b);
  if (b.empty())
    return clean(a);
  return clean(a + "/" + b);
}

// Go's filepath.Dir.
std::string dir(const std::string& p) {
  const auto slash = p.rfind('/');
  return clean(slash == std::string::npos ? std::string() : p.substr(0, slash + 1));
}

// Go's filepath.Ext: the suffix from the final dot of the last element, "" if none.
std::string ext(const std::string& p) {
  for (std::size_t i = p.size(); i > 0; --i) {
    if (p[i - 1] == '/')
      break;
    if (p[i - 1] == '.')
      return p.substr(i - 1);
  }
  return "";
}

}  // namespace path

std::vector<PackageBuildInfo> packages_build_info(const dwarf::DebugInfo& debug,
                                                  bool include_files) {
  // Delve keys by the CU name (joined with DW_AT_comp_dir when set, backslashes made
  // slashes); the first CU of a name fixes the directory, every CU adds files.
  struct Entry {
    std::string directory;
    std::set<std::string> files;
  };
  std::map<std::string, Entry> by_path;
  for (const dwarf::CompileUnit& cu : debug.compile_units()) {
    if (!cu.is_go || !cu.has_lines)
      continue;
    std::string name = cu.comp_dir.empty() ? cu.name : path::join(cu.comp_dir, cu.name);
    std::replace(name.begin(), name.end(), '\\', '/');
    auto it = by_path.find(name);
    if (it == by_path.end()) {
      const std::string e = path::ext(cu.first_file);
      if (e != ".go" && e != ".s")
        continue;
      it = by_path.emplace(name, Entry{path::dir(cu.first_file), {}}).first;
    }
    if (include_files)
      it->second.files.insert(cu.files.begin(), cu.files.end());
  }
  std::vector<PackageBuildInfo> out;
  out.reserve(by_path.size());
  for (auto& [name, e] : by_path)  // std::map: sorted by import path, as Delve sorts
    out.push_back(PackageBuildInfo{name, e.directory, {e.files.begin(), e.files.end()}});
  return out;
}

}  // namespace goscope::target
