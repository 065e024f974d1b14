#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

#include "dwarf/debug_info.hpp"
#include "dwarf/elf_file.hpp"
#include "dwarf/expr.hpp"
#include "fixtures.hpp"

using namespace goscope::dwarf;
using goscope::dwarf::test::TempDir;

namespace {

// GCC 12 writes DWARF 5: .debug_line_str, .debug_loclists, .debug_rnglists, .debug_addr.
constexpr const char* kSource = R"(#include <stdio.h>
#include <stdlib.h>
struct point { long x, y; const char *name; };
__attribute__((noinline)) long area(const struct point *p, long scale) {
  long a = p->x * p->y;
  for (long i = 0; i < scale; i++) {
    long t = a + i;
    a += t % 7;
  }
  return a;
}
int main(int argc, char **argv) {
  struct point p = {argc, strtol(argc > 1 ? argv[1] : "3", NULL, 10), "p"};
  printf("%ld\n", area(&p, argc * 3));
  return 0;
}
)";

/// Builds the C program with `flags` into `dir`; empty string when no compiler.
std::string build_c(const TempDir& dir, const std::string& name, const std::string& flags) {
  const auto src = dir.file(name + ".c");
  std::ofstream(src) << kSource;
  const auto out = dir.file(name);
  const std::string cmd = "cc " + flags + " -o '" + out + "' '" + src + "' 2>/dev/null";
  return std::system(cmd.c_str()) == 0 ? out : std::string();
}

}  // namespace

TEST_CASE("dwarf c: DWARF 5 from gcc -O0", "[dwarf][c]") {
  TempDir dir;
  const auto bin = build_c(dir, "prog", "-g -O0 -fno-pie -no-pie");
  if (bin.empty()) {
    WARN("no C compiler");
    return;
  }
  auto elf = ElfFile::open(bin);
  CHECK_FALSE(elf->is_go());
  auto info = DebugInfo::load(*elf);
  const Function* area = info->find_function("area");
  REQUIRE(area != nullptr);
  CHECK(area->decl_file == dir.file("prog.c"));
  CHECK(area->decl_line == 4);
  REQUIRE(area->params.size() == 2);
  CHECK(area->params[0].name == "p");
  REQUIRE(area->params[0].type != nullptr);
  CHECK(area->params[0].type->name == "*point");  // const is transparent
  CHECK(area->params[0].type->kind == GoKind::ptr);
  const Type* point = area->params[0].type->elem;
  CHECK(point->kind == GoKind::struct_);
  CHECK(point->size == 24);
  CHECK(point->field("y")->offset == 8);
  CHECK(point->field("name")->type->name == "*char");
  CHECK(area->params[1].type->name == "long int");
  CHECK(area->params[1].type->kind == GoKind::int64);
  auto loc = info->lines().find(area->low_pc);
  REQUIRE(loc);
  CHECK(loc->file == dir.file("prog.c"));
  CHECK(loc->line == 4);
  CHECK_FALSE(info->lines().addresses_for("prog.c", 7).empty());

  const auto& locals = info->locals(*area);
  REQUIRE(locals.size() == 3);
  CHECK(locals[0].name == "a");
  CHECK(locals[1].name == "i");
  CHECK(locals[1].depth == 1);
  CHECK_FALSE(locals[1].scope.empty());
  CHECK(locals[2].name == "t");
  CHECK(locals[2].depth == 2);

  const Function* main_fn = info->find_function("main");
  REQUIRE(main_fn != nullptr);
  CHECK(main_fn->params[1].type->name == "**char");
  REQUIRE(info->frames().row_at(main_fn->low_pc).has_value() == !info->frames().empty());
}

TEST_CASE("dwarf c: DWARF 5 location and range lists from gcc -O2", "[dwarf][c]") {
  TempDir dir;
  const auto bin = build_c(dir, "prog", "-g -O2 -fno-pie -no-pie");
  if (bin.empty()) {
    WARN("no C compiler");
    return;
  }
  auto info = DebugInfo::load(*ElfFile::open(bin));
  const Function* area = info->find_function("area");
  REQUIRE(area != nullptr);
  REQUIRE(area->params.size() == 2);
  // Optimized parameters move between registers: location lists inside the function.
  bool saw_list = false;
  for (const Variable& p : area->params) {
    if (!p.location.is_list) {
      continue;
    }
    saw_list = true;
    for (const auto& r : p.location.ranges) {
      CHECK(area->low_pc <= r.low);
      CHECK(r.high <= area->high_pc);
    }
  }
  CHECK(saw_list);
  auto p_at_entry = area->params[0].location.at(area->low_pc);
  REQUIRE(p_at_entry);
  auto pieces = evaluate_location(*p_at_entry, ExprContext{});
  REQUIRE(pieces.size() == 1);
  CHECK(pieces[0].kind == Piece::Kind::reg);
  CHECK(pieces[0].regno == 5);  // RDI: first SysV argument
  for (const Function& fn : info->functions()) {
    for (const Variable& v : info->locals(fn)) {
      for (const AddrRange& r : v.scope) {
        CHECK(r.low < r.high);
      }
    }
  }
}
