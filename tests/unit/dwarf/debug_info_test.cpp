#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>

#include "dwarf/debug_info.hpp"
#include "dwarf/elf_file.hpp"
#include "dwarf/error.hpp"
#include "dwarf/expr.hpp"
#include "fixtures.hpp"

using namespace goscope::dwarf;
using goscope::dwarf::test::basic;
using goscope::dwarf::test::fixture;
using goscope::dwarf::test::TempDir;

namespace {

const std::string kMainGo = std::string(GOSCOPE_SOURCE_DIR) + "/tests/fixtures/go/basic/main.go";

/// The 1-based line of main.go that starts with `prefix`.
std::uint32_t source_line(const std::string& prefix) {
  std::ifstream in(kMainGo);
  std::string text;
  for (std::uint32_t n = 1; std::getline(in, text); ++n) {
    if (text.starts_with(prefix)) {
      return n;
    }
  }
  FAIL("no line starting with " << prefix);
  return 0;
}

const Variable& param(const Function& fn, const std::string& name) {
  for (const Variable& v : fn.params) {
    if (v.name == name) {
      return v;
    }
  }
  FAIL("no parameter " << name << " in " << fn.name);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("dwarf debug info: main.add parameters and result", "[dwarf][info]") {
  const Function* add = basic().find_function("main.add");
  REQUIRE(add != nullptr);
  CHECK(add->name == "main.add");
  CHECK(add->low_pc < add->high_pc);
  CHECK_FALSE(add->optimized);
  CHECK(add->decl_file == kMainGo);
  CHECK(add->decl_line == source_line("func add("));
  REQUIRE(add->params.size() == 3);
  CHECK(add->params[0].name == "a");
  CHECK(add->params[1].name == "b");
  CHECK(add->params[2].name == "~r0");
  for (const Variable& p : add->params) {
    CHECK(p.is_parameter);
    REQUIRE(p.type != nullptr);
    CHECK(p.type->name == "int");
    CHECK(p.type->kind == GoKind::int_);
    CHECK(p.type->size == 8);
  }
  CHECK_FALSE(add->params[0].is_result);
  CHECK_FALSE(add->params[1].is_result);
  CHECK(add->params[2].is_result);
  // Go's frame base is the CFA.
  REQUIRE_FALSE(add->frame_base.is_list);
  REQUIRE(add->frame_base.expr.size() == 1);
  CHECK(add->frame_base.expr[0] == std::byte{0x9c});
}

TEST_CASE("dwarf debug info: register-ABI parameters have location lists", "[dwarf][info]") {
  const Function* add = basic().find_function("main.add");
  REQUIRE(add != nullptr);
  const Variable& a = param(*add, "a");
  const Variable& b = param(*add, "b");
  REQUIRE(a.location.is_list);
  REQUIRE_FALSE(a.location.ranges.empty());
  // Addresses are absolute (base-address entries applied).
  CHECK(a.location.ranges.front().low == add->low_pc);
  for (const auto& r : a.location.ranges) {
    CHECK(r.low >= add->low_pc);
    CHECK(r.high <= add->high_pc);
  }

  ExprContext ctx;
  ctx.cfa = 0x10000;
  ctx.frame_base = 0x10000;
  auto expr_a = a.location.at(add->low_pc);
  REQUIRE(expr_a.has_value());
  auto pieces = evaluate_location(*expr_a, ctx);
  REQUIRE(pieces.size() == 1);
  CHECK(pieces[0].kind == Piece::Kind::reg);
  CHECK(pieces[0].regno == 0);  // RAX: first integer argument

  auto expr_b = b.location.at(add->low_pc);
  REQUIRE(expr_b.has_value());
  pieces = evaluate_location(*expr_b, ctx);
  REQUIRE(pieces.size() == 1);
  CHECK(pieces[0].kind == Piece::Kind::reg);
  CHECK(pieces[0].regno == 3);  // RBX: second integer argument

  CHECK_FALSE(a.location.at(add->high_pc + 0x100000).has_value());

  // The result lives in the frame: DW_OP_fbreg.
  const Variable& r0 = param(*add, "~r0");
  REQUIRE_FALSE(r0.location.is_list);
  pieces = evaluate_location(*r0.location.at(add->low_pc), ctx);
  REQUIRE(pieces.size() == 1);
  CHECK(pieces[0].kind == Piece::Kind::memory);
}

TEST_CASE("dwarf debug info: multiple results and strings", "[dwarf][info]") {
  const Function* sc = basic().find_function("main.sqAndCube");
  REQUIRE(sc != nullptr);
  REQUIRE(sc->params.size() == 3);
  CHECK(sc->params[0].name == "x");
  CHECK_FALSE(sc->params[0].is_result);
  CHECK(sc->params[1].is_result);
  CHECK(sc->params[2].is_result);

  const Function* greet = basic().find_function("main.greet");
  REQUIRE(greet != nullptr);
  const Variable& name = param(*greet, "name");
  REQUIRE(name.type != nullptr);
  CHECK(name.type->name == "string");
  CHECK(name.type->kind == GoKind::string);
  CHECK(name.type->size == 16);
  const Field* str = name.type->field("str");
  const Field* len = name.type->field("len");
  REQUIRE(str != nullptr);
  REQUIRE(len != nullptr);
  CHECK(str->offset == 0);
  CHECK(len->offset == 8);
  CHECK(len->type->kind == GoKind::int_);
  REQUIRE(str->type != nullptr);
  CHECK(str->type->kind == GoKind::ptr);

  // A string argument arrives in two registers: RAX (ptr) and RBX (len).
  REQUIRE(name.location.is_list);
  auto expr = name.location.at(greet->low_pc);
  REQUIRE(expr);
  ExprContext ctx;
  auto pieces = evaluate_location(*expr, ctx);
  REQUIRE(pieces.size() == 2);
  CHECK(pieces[0].kind == Piece::Kind::reg);
  CHECK(pieces[0].regno == 0);
  CHECK(pieces[0].size == 8);
  CHECK(pieces[1].regno == 3);
  CHECK(pieces[1].size == 8);
}

TEST_CASE("dwarf debug info: methods and closures", "[dwarf][info]") {
  const Function* area = basic().find_function("main.Rect.Area");
  REQUIRE(area != nullptr);
  REQUIRE_FALSE(area->params.empty());
  CHECK(area->params[0].name == "r");
  CHECK(area->params[0].type->name == "main.Rect");
  // (*Point).Move is never called, so the linker drops it; the compiler-made pointer
  // wrapper of Rect.Area stays (Shape's method table needs it).
  CHECK(basic().find_function("main.(*Point).Move") == nullptr);
  const Function* ptr_area = basic().find_function("main.(*Rect).Area");
  REQUIRE(ptr_area != nullptr);
  REQUIRE_FALSE(ptr_area->params.empty());
  CHECK(ptr_area->params[0].type->name == "*main.Rect");
  CHECK(ptr_area->params[0].type->elem->name == "main.Rect");
  const Function* move_point = basic().find_function("main.movePoint");
  REQUIRE(move_point != nullptr);
  CHECK(move_point->params[0].type->name == "*main.Point");
  CHECK(basic().find_function("main.deferred.func1") != nullptr);
  CHECK(basic().find_function("main.nope") == nullptr);
}

TEST_CASE("dwarf debug info: function_at", "[dwarf][info]") {
  const auto& info = basic();
  const Function* add = info.find_function("main.add");
  REQUIRE(add != nullptr);
  CHECK(info.function_at(add->low_pc) == add);
  CHECK(info.function_at(add->high_pc + -1) == add);
  const Function* after = info.function_at(add->high_pc);
  CHECK(after != add);
  CHECK(info.function_at(FileAddr(0x10)) == nullptr);
  CHECK(info.function_at(FileAddr(~0ull)) == nullptr);
  const auto& fns = info.functions();
  CHECK(fns.size() > 1000);
  CHECK(std::is_sorted(fns.begin(), fns.end(),
                       [](const Function& x, const Function& y) { return x.low_pc < y.low_pc; }));
}

TEST_CASE("dwarf debug info: line table", "[dwarf][info][lines]") {
  const auto& info = basic();
  const Function* add = info.find_function("main.add");
  REQUIRE(add != nullptr);
  auto loc = info.lines().find(add->low_pc);
  REQUIRE(loc);
  CHECK(loc->file == kMainGo);
  CHECK(loc->file.ends_with("basic/main.go"));
  CHECK(loc->line == source_line("func add("));

  auto addrs = info.lines().addresses_for("basic/main.go", source_line("func add("));
  REQUIRE_FALSE(addrs.empty());
  CHECK(addrs.front() == add->low_pc);

  // Go marks the end of the stack-growth prologue; a leaf like add has none to skip.
  CHECK(info.lines().prologue_end(add->low_pc, add->high_pc) == add->low_pc);
  const Function* greet = info.find_function("main.greet");
  REQUIRE(greet != nullptr);
  auto pe = info.lines().prologue_end(greet->low_pc, greet->high_pc);
  REQUIRE(pe);
  CHECK(*pe > greet->low_pc);
  CHECK(*pe < greet->high_pc);

  // Runtime files carry full paths too.
  const Function* rt = info.find_function("runtime.main");
  REQUIRE(rt != nullptr);
  auto rloc = info.lines().find(rt->low_pc);
  REQUIRE(rloc);
  CHECK(rloc->file.ends_with("/runtime/proc.go"));
  CHECK(rloc->file.front() == '/');
}

TEST_CASE("dwarf debug info: globals", "[dwarf][info]") {
  const Variable* allgs = basic().find_global("runtime.allgs");
  REQUIRE(allgs != nullptr);
  CHECK(allgs->name == "runtime.allgs");
  REQUIRE(allgs->type != nullptr);
  CHECK(allgs->type->name == "[]*runtime.g");
  CHECK(allgs->type->kind == GoKind::slice);
  REQUIRE(allgs->type->elem != nullptr);
  CHECK(allgs->type->elem->name == "*runtime.g");
  REQUIRE_FALSE(allgs->location.is_list);
  auto pieces = evaluate_location(allgs->location.expr, ExprContext{});
  REQUIRE(pieces.size() == 1);
  CHECK(pieces[0].kind == Piece::Kind::memory);
  auto elf = ElfFile::open(fixture("basic"));
  const ElfSymbol* sym = elf->find_symbol("runtime.allgs");
  REQUIRE(sym != nullptr);
  CHECK(pieces[0].address == sym->addr.value());
  CHECK(basic().find_global("runtime.nope") == nullptr);
  CHECK(basic().find_global("runtime.allgs") == allgs);  // cached
}

TEST_CASE("dwarf debug info: optimized build loads", "[dwarf][info]") {
  auto elf = ElfFile::open(fixture("basic_opt"));
  auto info = DebugInfo::load(*elf);
  elf.reset();  // DebugInfo keeps its own copy of the sections
  CHECK(info->functions().size() > 1000);
  const Function* main_fn = info->find_function("main.main");
  REQUIRE(main_fn != nullptr);
  CHECK(main_fn->optimized);
  // main.Rect.Area is inlined into callers and also emitted out of line; its name and
  // parameters come from the abstract origin.
  const Function* area = info->find_function("main.Rect.Area");
  REQUIRE(area != nullptr);
  REQUIRE(area->params.size() >= 1);
  CHECK(area->params[0].name == "r");
  REQUIRE(area->params[0].type != nullptr);
  CHECK(area->params[0].type->name == "main.Rect");
  CHECK(info->lines().find(main_fn->low_pc).has_value());
}

TEST_CASE("dwarf debug info: binary without DWARF", "[dwarf][info]") {
  TempDir dir;
  const auto stripped = dir.file("stripped");
  const std::string cmd =
      "objcopy --strip-debug '" + fixture("basic") + "' '" + stripped + "' 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) {
    WARN("objcopy unavailable");
    return;
  }
  auto elf = ElfFile::open(stripped);
  CHECK(elf->is_go());
  CHECK_THROWS_WITH(DebugInfo::load(*elf), stripped + ": no DWARF debug info (stripped binary?)");
}

// The time is reported, not asserted: speed is measured by the benchmarks (a loaded or
// sanitizer machine is slower by any factor).
TEST_CASE("dwarf debug info: a whole load of a fixture", "[dwarf][info][perf]") {
  const auto start = std::chrono::steady_clock::now();
  auto elf = ElfFile::open(fixture("basic"));
  auto info = DebugInfo::load(*elf);
  const auto ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  WARN("ElfFile::open + DebugInfo::load of basic: " << ms << " ms, " << info->functions().size()
                                                    << " functions, " << info->lines().rows().size()
                                                    << " rows");
  CHECK(info->functions().size() > 100);
  CHECK(info->find_function("main.main") != nullptr);
  CHECK_FALSE(info->lines().rows().empty());
}

TEST_CASE("dwarf debug info: locals and lexical scopes", "[dwarf][info]") {
  const auto& info = basic();
  const Function* sum = info.find_function("main.sum");
  REQUIRE(sum != nullptr);
  const auto& locals = info.locals(*sum);
  CHECK(&info.locals(*sum) == &locals);  // cached
  const Variable* t = nullptr;
  const Variable* x = nullptr;
  for (const Variable& v : locals) {
    CHECK_FALSE(v.is_parameter);
    if (v.name == "t") {
      t = &v;
    } else if (v.name == "x") {
      x = &v;
    }
  }
  REQUIRE(t != nullptr);
  REQUIRE(x != nullptr);
  CHECK(t->type->name == "int");
  CHECK(t->decl_line == source_line("\tt := 0"));
  CHECK(t->depth == 0);
  CHECK(t->scope.empty());
  CHECK(t->in_scope(sum->low_pc));
  CHECK(x->depth == 1);
  REQUIRE_FALSE(x->scope.empty());
  CHECK_FALSE(x->in_scope(sum->low_pc));
  CHECK(x->in_scope(x->scope.front().low));
  CHECK(x->scope.front().low > sum->low_pc);
  CHECK(x->scope.front().high <= sum->high_pc);
  // -N -l keeps locals in the frame.
  ExprContext ctx;
  ctx.frame_base = 0x1000;
  auto pieces = evaluate_location(x->location.expr, ctx);
  REQUIRE(pieces.size() == 1);
  CHECK(pieces[0].kind == Piece::Kind::memory);
  CHECK(pieces[0].address < 0x1000);

  CHECK(info.locals(*info.find_function("main.add")).empty());
}

TEST_CASE("dwarf debug info: locals of an optimized build", "[dwarf][info]") {
  auto info = DebugInfo::load(*ElfFile::open(fixture("basic_opt")));
  // Lexical blocks there use DW_AT_ranges; every scope must be inside its function.
  std::size_t with_ranges = 0;
  for (const char* name : {"main.main", "runtime.main", "fmt.(*pp).doPrintf"}) {
    INFO(name);
    const Function* fn = info->find_function(name);
    REQUIRE(fn != nullptr);
    for (const Variable& v : info->locals(*fn)) {
      for (const AddrRange& r : v.scope) {
        CHECK(fn->low_pc <= r.low);
        CHECK(r.high <= fn->high_pc);
        ++with_ranges;
      }
    }
  }
  CHECK(with_ranges > 0);
}

TEST_CASE("dwarf debug info: inlined calls in an optimized build", "[dwarf][info]") {
  auto info = DebugInfo::load(*ElfFile::open(fixture("basic_opt")));
  // main.greet is small enough to exist only inlined into main.main.
  CHECK(info->find_function("main.greet") == nullptr);
  const auto calls = info->inlined_calls("main.greet");
  REQUIRE(calls.size() == 1);
  const InlinedCall& call = *calls.front();
  CHECK(call.name == "main.greet");
  REQUIRE(call.caller != nullptr);
  CHECK(call.caller->name == "main.main");
  CHECK(call.depth == 0);
  CHECK(call.call_file == kMainGo);
  CHECK(call.call_line == source_line("\tfmt.Println(greet(\"gopher\"))"));
  REQUIRE_FALSE(call.ranges.empty());
  CHECK(call.entry == call.ranges.front().low);
  CHECK(call.caller->low_pc <= call.entry);
  CHECK(call.entry < call.caller->high_pc);
  REQUIRE(call.params.size() == 1);
  CHECK(call.params[0].name == "name");
  CHECK(call.params[0].type->name == "string");

  const auto frames = info->inlined_at(call.entry);
  REQUIRE_FALSE(frames.empty());
  CHECK(frames.front() == &call);
  CHECK(info->inlined_at(call.caller->low_pc).empty());
  CHECK(info->inlined_calls("main.nope").empty());

  // Parameters keep the inlined function's order; those this inlined copy does not describe
  // (xs, label, pp: optimized away) are left out, as dlv leaves them out (`dlv trace` of
  // main.inspect in basic_opt prints three values).
  const auto inspect = info->inlined_calls("main.inspect");
  REQUIRE(inspect.size() == 1);
  std::vector<std::string> names;
  for (const Variable& v : inspect.front()->params) {
    names.push_back(v.name);
  }
  CHECK(names == std::vector<std::string>{"p", "m", "s"});

  // -N -l inlines nothing.
  CHECK(basic().inlined_calls("main.greet").empty());
}

TEST_CASE("dwarf debug info: float arguments arrive in XMM registers", "[dwarf][info]") {
  const Function* mixed = basic().find_function("main.mixed");
  REQUIRE(mixed != nullptr);
  ExprContext ctx;
  auto regno_at_entry = [&](const std::string& name) {
    auto expr = param(*mixed, name).location.at(mixed->low_pc);
    REQUIRE(expr);
    auto pieces = evaluate_location(*expr, ctx);
    REQUIRE(pieces.size() == 1);
    REQUIRE(pieces[0].kind == Piece::Kind::reg);
    return pieces[0].regno;
  };
  // DWARF x86-64 numbering: 0 rax, 3 rbx, 2 rcx, 5 rdi, ...; 17.. xmm0..
  CHECK(regno_at_entry("b") == 0);
  CHECK(regno_at_entry("u") == 3);
  CHECK(regno_at_entry("f") == 17);
  CHECK(regno_at_entry("f32") == 18);
  CHECK(regno_at_entry("i8") == 2);
}

TEST_CASE("DW_TAG_constant entries: by type, sorted by value, and by name", "[dwarf][debug_info]") {
  const auto info = DebugInfo::load(*ElfFile::open(test::fixture("diffx")));
  const Type* color = info->find_type("main.Color");
  REQUIRE(color != nullptr);
  const auto colors = info->constants_of_type(color);
  REQUIRE(colors.size() == 3);
  CHECK(colors[0]->name == "main.Red");
  CHECK(colors[0]->value == 0);
  CHECK(colors[1]->name == "main.Green");
  CHECK(colors[2]->name == "main.Blue");
  CHECK(colors[2]->value == 2);
  const Type* flags = info->find_type("main.Flags");
  REQUIRE(flags != nullptr);
  CHECK(info->constants_of_type(flags).size() == 3);
  const Constant* blue = info->find_constant("main.Blue");
  REQUIRE(blue != nullptr);
  CHECK(blue->type == color);
  CHECK(blue->value == 2);
  CHECK(info->find_constant("main.Nope") == nullptr);
}

TEST_CASE("dwarf debug info: a generic shape's type parameters and dictionary", "[dwarf][info]") {
  // main.genericFn[go.shape.int_0] (diffx): x is of type .param0, a typedef of the shape
  // type with DW_AT_go_dict_index 0; b of .param1 (index 1); the dictionary is `.dict`.
  const auto info = DebugInfo::load(*ElfFile::open(fixture("diffx")));
  const Function* fn = info->find_function("main.genericFn[go.shape.int_0]");
  REQUIRE(fn != nullptr);
  const Variable& dict = param(*fn, ".dict");
  CHECK(dict.type != nullptr);
  const Variable& x = param(*fn, "x");
  REQUIRE(x.type != nullptr);
  CHECK(x.type->name == ".param0");
  CHECK(x.type->dict_index == 0);
  REQUIRE(x.type->elem != nullptr);
  CHECK(x.type->elem->name == "go.shape.int_0");
  CHECK(x.type->resolved()->kind == GoKind::int_);
  const Variable& b = param(*fn, "b");
  REQUIRE(b.type != nullptr);
  CHECK(b.type->dict_index == 1);
  CHECK(b.type->elem->name == "main.Box[go.shape.int_0]");
  // Ordinary types are no type parameters.
  CHECK(info->find_type("int")->dict_index == -1);
  CHECK(dict.type->dict_index == -1);
}

TEST_CASE("dwarf debug info: DW_AT_trampoline marks go/defer wrappers", "[dwarf][info]") {
  // values: `go parkedOnChannel(c, &wg)` inside a closure runs main.main.func1.1, a wrapper
  // the compiler marks DW_AT_trampoline; Delve shows the function it calls.
  const auto info = DebugInfo::load(*ElfFile::open(fixture("values")));
  const Function* wrapper = info->find_function("main.main.func1.1");
  REQUIRE(wrapper != nullptr);
  CHECK(wrapper->trampoline);
  const Function* closure = info->find_function("main.main.func1");
  REQUIRE(closure != nullptr);
  CHECK_FALSE(closure->trampoline);
  CHECK_FALSE(info->find_function("main.parkedOnChannel")->trampoline);
}

TEST_CASE("dwarf debug info: package variables in DWARF order", "[dwarf][info]") {
  // Delve's PackageVariables lists them by DIE offset: the order of the declarations.
  const auto info = DebugInfo::load(*ElfFile::open(fixture("values")));
  std::vector<std::string> mains;
  for (const auto& n : info->global_names()) {
    if (n.starts_with("main.Global"))
      mains.push_back(n);
  }
  CHECK(mains == std::vector<std::string>{"main.GlobalInt", "main.GlobalStr", "main.GlobalMap",
                                          "main.GlobalPoint"});
}

TEST_CASE("dwarf debug info: line tables are read per compile unit when first needed",
          "[dwarf][info][lines]") {
  // A fresh load: the shared fixture may have been asked already.
  auto elf = ElfFile::open(fixture("basic"));
  auto info = DebugInfo::load(*elf);
  const LineTable& lines = info->lines();
  // The load read every program once for the functions' lines but kept no rows.
  CHECK(lines.parts_decoded() == 0);
  const Function* main_fn = info->find_function("main.main");
  REQUIRE(main_fn != nullptr);
  CHECK(main_fn->decl_line == source_line("func main()"));
  // A function-entry breakpoint reads the one unit that holds main.main.
  const auto entry = lines.prologue_end(main_fn->low_pc, main_fn->high_pc);
  REQUIRE(entry.has_value());
  CHECK(lines.parts_decoded() == 1);
  CHECK(lines.find(*entry)->file == kMainGo);
  // file:line reads the units whose file table names the file (main, and none of the
  // runtime's), and answers as the whole table does.
  const auto line = source_line("func main()");
  const auto addrs = lines.addresses_for("basic/main.go", line);
  CHECK_FALSE(addrs.empty());
  const std::size_t after_lookup = lines.parts_decoded();
  CHECK(after_lookup < info->compile_units().size() / 2);
  std::vector<FileAddr> merged;
  const auto& files = lines.files();
  for (const LineRow& r : lines.rows()) {  // every unit, merged
    if (r.line == line && r.is_stmt && !r.end_sequence && files[r.file] == kMainGo &&
        (merged.empty() || merged.back() != r.addr))
      merged.push_back(r.addr);
  }
  CHECK(addrs == merged);
  const auto with_lines = std::count_if(info->compile_units().begin(), info->compile_units().end(),
                                        [](const CompileUnit& cu) { return cu.has_lines; });
  CHECK(lines.parts_decoded() == static_cast<std::size_t>(with_lines));
}
