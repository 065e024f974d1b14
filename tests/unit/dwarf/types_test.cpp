#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "dwarf/debug_info.hpp"
#include "dwarf/elf_file.hpp"
#include "fixtures.hpp"

using namespace goscope::dwarf;
using goscope::dwarf::test::basic;

namespace {

const Type* param_type(const std::string& fn_name, const std::string& param) {
  const Function* fn = basic().find_function(fn_name);
  REQUIRE(fn != nullptr);
  for (const Variable& v : fn->params) {
    if (v.name == param) {
      return v.type;
    }
  }
  FAIL("no parameter " << param);
  return nullptr;
}

}  // namespace

TEST_CASE("dwarf types: runtime.g", "[dwarf][types]") {
  const Type* g = basic().find_type("runtime.g");
  REQUIRE(g != nullptr);
  CHECK(g->name == "runtime.g");
  CHECK(g->kind == GoKind::struct_);
  CHECK_FALSE(g->is_typedef);
  CHECK(g->resolved() == g);
  const Field* goid = g->field("goid");
  REQUIRE(goid != nullptr);
  CHECK(goid->offset > 0);
  CHECK(goid->offset < g->size);
  CHECK(goid->type->kind == GoKind::int64);
  const Field* sched = g->field("sched");
  REQUIRE(sched != nullptr);
  CHECK(sched->type->name == "runtime.gobuf");
  CHECK(sched->type->field("pc") != nullptr);
  CHECK(g->field("no_such_field") == nullptr);
  // Cached: the same object every time.
  CHECK(basic().find_type("runtime.g") == g);
  CHECK(basic().find_type("no.such.Type") == nullptr);
}

TEST_CASE("dwarf types: basic kinds", "[dwarf][types]") {
  struct Case {
    const char* name;
    GoKind kind;
    std::uint64_t size;
  };
  for (const Case& c : {Case{"int", GoKind::int_, 8}, Case{"uint", GoKind::uint, 8},
                        Case{"bool", GoKind::bool_, 1}, Case{"float64", GoKind::float64, 8},
                        Case{"float32", GoKind::float32, 4}, Case{"int8", GoKind::int8, 1},
                        Case{"uint8", GoKind::uint8, 1}, Case{"int32", GoKind::int32, 4},
                        Case{"uintptr", GoKind::uintptr, 8}, Case{"string", GoKind::string, 16}}) {
    INFO(c.name);
    const Type* t = basic().find_type(c.name);
    REQUIRE(t != nullptr);
    CHECK(t->name == c.name);
    CHECK(t->kind == c.kind);
    CHECK(t->size == c.size);
  }
  CHECK(basic().find_type("unsafe.Pointer")->kind == GoKind::unsafe_pointer);
}

TEST_CASE("dwarf types: parameters of every kind", "[dwarf][types]") {
  const Type* mixed_b = param_type("main.mixed", "b");
  CHECK(mixed_b->kind == GoKind::bool_);
  CHECK(param_type("main.mixed", "f")->kind == GoKind::float64);
  CHECK(param_type("main.mixed", "f32")->kind == GoKind::float32);
  CHECK(param_type("main.mixed", "u8")->kind == GoKind::uint8);
  CHECK(param_type("main.mixed", "r")->name == "int32");  // rune is an alias

  const Type* p = param_type("main.inspect", "p");
  CHECK(p->name == "main.Point");
  CHECK(p->kind == GoKind::struct_);
  CHECK(p->size == 32);
  REQUIRE(p->fields.size() == 3);
  CHECK(p->fields[0].name == "X");
  CHECK(p->fields[1].name == "Y");
  CHECK(p->fields[1].offset == 8);
  CHECK(p->fields[2].name == "Name");
  CHECK(p->fields[2].type->kind == GoKind::string);

  const Type* xs = param_type("main.inspect", "xs");
  CHECK(xs->name == "[]int");
  CHECK(xs->kind == GoKind::slice);
  CHECK(xs->size == 24);
  REQUIRE(xs->elem != nullptr);
  CHECK(xs->elem->name == "int");
  CHECK(xs->field("array") != nullptr);
  CHECK(xs->field("len")->offset == 8);
  CHECK(xs->field("cap")->offset == 16);

  const Type* m = param_type("main.inspect", "m");
  CHECK(m->name == "map[string]int");
  CHECK(m->kind == GoKind::map);
  CHECK(m->size == 8);
  REQUIRE(m->key != nullptr);
  CHECK(m->key->name == "string");
  REQUIRE(m->elem != nullptr);
  CHECK(m->elem->name == "int");
  REQUIRE(m->underlying != nullptr);
  CHECK(m->underlying->kind == GoKind::ptr);
  CHECK(m->underlying->elem->name == "hash<string,int>");
  CHECK(m->underlying->elem->field("buckets") != nullptr);

  const Type* s = param_type("main.inspect", "s");
  CHECK(s->name == "main.Shape");
  CHECK(s->kind == GoKind::interface);
  CHECK(s->size == 16);
  CHECK(s->field("tab") != nullptr);
  CHECK(s->field("data") != nullptr);
  CHECK(s->field("data")->offset == 8);

  const Type* pp = param_type("main.inspect", "pp");
  CHECK(pp->name == "*main.Point");
  CHECK(pp->kind == GoKind::ptr);
  CHECK(pp->elem == p);  // the bare typedef collapses onto the struct

  const Type* err = basic().find_function("main.mayFail")->params.back().type;
  CHECK(err->name == "error");
  CHECK(err->kind == GoKind::interface);
  CHECK(err->field("tab") != nullptr);

  const Type* any = basic().find_type("interface {}");
  REQUIRE(any != nullptr);
  CHECK(any->kind == GoKind::interface);
  CHECK(any->field("_type") != nullptr);
  CHECK(any->field("data") != nullptr);
}

TEST_CASE("dwarf types: arrays, chans, funcs and cycles", "[dwarf][types]") {
  const Type* g = basic().find_type("runtime.g");
  REQUIRE(g != nullptr);
  // runtime.g -> m *runtime.m -> curg *runtime.g: a cycle through pointers.
  const Field* m = g->field("m");
  REQUIRE(m != nullptr);
  REQUIRE(m->type->kind == GoKind::ptr);
  const Type* mt = m->type->elem;
  REQUIRE(mt != nullptr);
  CHECK(mt->name == "runtime.m");
  const Field* curg = mt->field("curg");
  REQUIRE(curg != nullptr);
  CHECK(curg->type->elem == g);

  const Type* arr = basic().find_type("[4]uint8");
  REQUIRE(arr != nullptr);
  CHECK(arr->kind == GoKind::array);
  CHECK(arr->count == 4);
  CHECK(arr->size == 4);
  CHECK(arr->elem->name == "uint8");
  const Type* ch = basic().find_type("chan int");
  REQUIRE(ch != nullptr);
  CHECK(ch->kind == GoKind::chan);
  CHECK(ch->elem->name == "int");
  CHECK(ch->size == 8);
  const Type* fn = basic().find_type("func()");
  REQUIRE(fn != nullptr);
  CHECK(fn->kind == GoKind::func);
}

TEST_CASE("dwarf types: resolved follows typedef chains", "[dwarf][types]") {
  Type base;
  base.name = "int";
  base.kind = GoKind::int_;
  Type alias1;
  alias1.name = "A";
  alias1.is_typedef = true;
  alias1.elem = &base;
  Type alias2;
  alias2.name = "B";
  alias2.is_typedef = true;
  alias2.elem = &alias1;
  CHECK(alias2.resolved() == &base);
  CHECK(base.resolved() == &base);
  Type loop;
  loop.is_typedef = true;
  loop.elem = &loop;
  CHECK(loop.resolved() == &loop);  // terminates
}

TEST_CASE("dwarf types: lookup by runtime type address", "[dwarf][types]") {
  auto elf = ElfFile::open(goscope::dwarf::test::fixture("basic"));
  const ElfSymbol* types = elf->find_symbol("runtime.types");
  REQUIRE(types != nullptr);
  const std::uint64_t base = types->addr.value();
  for (const char* name : {"int", "string", "main.Rect", "[]int", "error", "map[string]int"}) {
    INFO(name);
    const Type* t = basic().find_type(name);
    REQUIRE(t != nullptr);
    REQUIRE(t->runtime_type != 0);
    CHECK(basic().type_by_runtime_type(base + t->runtime_type) == t);
  }
  // Go's linker writes uintptr's attribute as an address rather than an offset.
  const Type* uintptr = basic().find_type("uintptr");
  REQUIRE(uintptr != nullptr);
  const std::uint64_t addr =
      uintptr->runtime_type >= base ? uintptr->runtime_type : base + uintptr->runtime_type;
  CHECK(basic().type_by_runtime_type(addr) == uintptr);
  CHECK(basic().type_by_runtime_type(1) == nullptr);
  CHECK(basic().type_by_runtime_type(base + 1) == nullptr);
}

namespace {

/// Parses every named type and checks the invariants the variable loader relies on.
void check_all_types(const DebugInfo& info) {
  const auto names = info.type_names();
  REQUIRE(names.size() > 500);
  for (const std::string& name : names) {
    INFO(name);
    const Type* t = info.find_type(name);
    REQUIRE(t != nullptr);
    CHECK(t->name == name);
    const Type* r = t->resolved();
    REQUIRE(r != nullptr);
    switch (r->kind) {
      case GoKind::ptr:
        CHECK(r->elem != nullptr);
        CHECK(r->size == 8);
        break;
      case GoKind::slice:
        CHECK(r->elem != nullptr);
        CHECK(r->field("array") != nullptr);
        CHECK(r->field("len") != nullptr);
        CHECK(r->field("cap") != nullptr);
        break;
      case GoKind::string:
        CHECK(r->field("str") != nullptr);
        CHECK(r->field("len") != nullptr);
        break;
      case GoKind::interface:
        CHECK(r->size == 16);
        CHECK(r->field("data") != nullptr);
        CHECK((r->field("tab") != nullptr || r->field("_type") != nullptr));
        break;
      case GoKind::map:
        CHECK(r->key != nullptr);
        CHECK(r->elem != nullptr);
        CHECK(r->underlying != nullptr);
        break;
      case GoKind::chan:
        CHECK(r->elem != nullptr);
        break;
      case GoKind::array:
        CHECK(r->elem != nullptr);
        if (r->elem != nullptr && r->elem->size != 0) {
          CHECK(r->size == r->count * r->elem->size);
        }
        break;
      case GoKind::struct_:
        for (const Field& f : r->fields) {
          INFO(f.name);
          CHECK(f.type != nullptr);
          CHECK(f.offset <= r->size);
        }
        break;
      case GoKind::invalid:
        FAIL("no kind");
        break;
      default:
        break;
    }
  }
}

}  // namespace

TEST_CASE("dwarf types: every named type of the fixture parses", "[dwarf][types]") {
  check_all_types(basic());
}

TEST_CASE("dwarf types: every named type of the optimized fixture parses", "[dwarf][types]") {
  auto info = DebugInfo::load(*ElfFile::open(goscope::dwarf::test::fixture("basic_opt")));
  check_all_types(*info);
}

TEST_CASE("dwarf types: lazy lookups from several threads", "[dwarf][types]") {
  auto info = DebugInfo::load(*ElfFile::open(goscope::dwarf::test::fixture("basic")));
  std::vector<std::thread> threads;
  std::atomic<int> found{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (const char* name : {"runtime.g", "runtime.m", "runtime.p", "runtime.hchan"}) {
        found += info->find_type(name) != nullptr;
      }
      found += info->find_global("runtime.allgs") != nullptr;
      found += !info->locals(*info->find_function("main.sum")).empty();
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  CHECK(found == 4 * 6);
}
