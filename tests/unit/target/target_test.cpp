// The Go view on a live fixture stopped at main.stop (called from main.inspect): goroutines,
// stacks, variables and expressions, checked against what dlv 1.20.2 shows there.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "live.hpp"
#include "proc/process.hpp"
#include "target/binary_info.hpp"
#include "target/target.hpp"
#include "target/value_loader.hpp"

using namespace goscope;
using goscope::target::test::run_to;
using goscope::target::test::run_to_function;
using goscope::target::test::Stopped;

namespace {

/// At the first statement of `file`:`line`.
Stopped run_to_line(const char* fixture, const char* file, std::uint32_t line) {
  return run_to(fixture, [file, line](const target::BinaryInfo& bi) {
    const auto addrs = bi.debug().lines().addresses_for(file, line);
    REQUIRE(!addrs.empty());
    return bi.to_virt(addrs.front());
  });
}

Stopped run_to_stop(const char* fixture) {
  return run_to_function(fixture, "main.stop");
}

const target::LoadConfig kDefault{true, 1, 64, 64, -1};

const target::Variable* find(const std::vector<target::Variable>& vs, const std::string& name) {
  for (const auto& v : vs) {
    if (v.name == name)
      return &v;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("goroutines and stacks of a stopped program match dlv", "[target][goroutines]") {
  auto s = run_to_stop("values");
  auto& t = *s.t;
  auto g = t.goroutine_of_thread(s.tid);
  REQUIRE(g);
  CHECK(g->id == 1);
  CHECK(g->current.function_name() == "main.stop");
  CHECK(g->current.line == 135);
  CHECK(g->start.function_name() == "runtime.main");
  CHECK(g->status == 2);
  CHECK(g->thread_id == s.tid);

  auto all = t.goroutines();
  REQUIRE(all.size() >= 6);  // main, 4 runtime goroutines and the parked ones; GC workers vary
  // Goroutine ids depend on how many goroutines the runtime started first, so the parked
  // ones are found by where they wait.
  auto find_g = [&](const std::string& fn) -> std::optional<target::Goroutine> {
    for (const auto& x : all) {
      if (x.user_current.function_name() == fn)
        return x;
    }
    return std::nullopt;
  };
  auto chan_g = find_g("main.parkedOnChannel");
  REQUIRE(chan_g);
  CHECK(chan_g->user_current.line == 139);
  CHECK(chan_g->wait_reason == 14);  // waitReasonChanReceive: "chan receive"
  CHECK(chan_g->labels == std::map<std::string, std::string>{{"worker", "chan"}});
  CHECK(find_g("sync.runtime_SemacquireMutex"));
  std::map<std::int64_t, target::Goroutine> by_id;
  for (const auto& x : all) by_id[x.id] = x;
  CHECK(by_id[2].system);
  CHECK(!by_id[1].system);
  int next = 0;
  auto page = t.goroutines(0, 2, &next);
  CHECK(page.size() == 2);
  CHECK(next > 0);
  // The same pages without a copy (ListGoroutines'): the target's own records.
  int next_ref = 0;
  const auto refs = t.goroutine_page(0, 2, &next_ref);
  REQUIRE(refs.size() == 2);
  CHECK(next_ref == next);
  CHECK(refs[0]->id == page[0].id);
  CHECK(refs[1]->user_current.pc == page[1].user_current.pc);
  next_ref = 0;
  CHECK(t.goroutine_page(next, 0, &next_ref).size() == all.size() - 2);
  CHECK(next_ref == -1);

  // dlv: stack of goroutine 1 (depth 3)
  auto st = t.stacktrace(*g, 3);
  REQUIRE(st.size() == 4);
  CHECK(st[0].call.function_name() == "main.stop");
  CHECK(st[1].call.function_name() == "main.inspect");
  CHECK(st[1].call.line == 130);
  CHECK(st[2].call.function_name() == "main.main");
  CHECK(st[2].call.line == 162);
  CHECK(st[3].call.function_name() == "runtime.main");
  CHECK(st[3].call.line == 250);
  CHECK(st[3].frame_offset == -32);
  CHECK(st[3].frame_pointer_offset == -48);
  CHECK(st[2].frame_offset == -128);

  // A goroutine parked in a channel receive: unwound from g.sched down to goexit.
  auto st18 = t.stacktrace(*chan_g, 10);
  std::vector<std::string> names;
  for (const auto& f : st18) names.push_back(f.call.function_name());
  CHECK(names == std::vector<std::string>{"runtime.gopark", "runtime.chanrecv", "runtime.chanrecv1",
                                          "main.parkedOnChannel", "main.main.func1.1",
                                          "runtime.goexit"});
  CHECK(st18.back().bottom);
  CHECK(st18[3].call.line == 139);
  CHECK(st18[0].frame_offset == -296);
}

TEST_CASE("arguments, locals and package variables match dlv's JSON", "[target][variables]") {
  auto s = run_to_stop("values");
  auto& t = *s.t;
  t.set_selected_goroutine(1);
  auto f = t.frame_for({-1, 1, 0, std::nullopt});
  CHECK(f.call.function_name() == "main.inspect");
  auto args = t.function_arguments(f, kDefault);
  REQUIRE(args.size() == 5);
  CHECK(args[0].name == "n");
  CHECK(args[0].value == "5");
  CHECK(args[0].flags == target::kFlagArgument);
  CHECK(args[2].name == "pp");
  CHECK(args[2].value == std::to_string(args[2].children[0].addr));
  CHECK(args[2].children[0].children[1].value == "8");
  CHECK(args[4].name == "~r0");
  CHECK(args[4].flags == target::kFlagReturnArgument);

  auto locals = t.local_variables(f, kDefault);
  auto* r = find(locals, "r");
  REQUIRE(r);
  CHECK(r->kind == 2);  // Delve reports int32 as reflect.Int
  CHECK(r->value == "955");
  auto* by = find(locals, "by");
  REQUIRE(by);
  CHECK(by->kind == 7);
  auto* arr = find(locals, "arr");
  REQUIRE(arr);
  CHECK(arr->cap == -1);
  CHECK(arr->children.size() == 3);
  auto* m = find(locals, "m");
  REQUIRE(m);
  CHECK(m->len == 3);
  REQUIRE(m->children.size() == 6);
  std::map<std::string, std::string> entries;
  for (std::size_t i = 0; i < 6; i += 2) entries[m->children[i].value] = m->children[i + 1].value;
  CHECK(entries == std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}, {"c", "3"}});
  auto* big = find(locals, "bigMap");
  REQUIRE(big);
  CHECK(big->len == 100);
  CHECK(big->children.size() == 128);
  auto* ch = find(locals, "ch");
  REQUIRE(ch);
  CHECK(ch->len == 11);
  REQUIRE(ch->children.size() == 11);
  CHECK(ch->children[0].name == "qcount");
  CHECK(ch->children[0].value == "2");
  CHECK(ch->children[1].value == "4");
  CHECK(ch->children[2].type == "*[4]int");
  REQUIRE(ch->children[2].children.size() == 1);
  CHECK(ch->children[2].children[0].children[1].value == "2");
  auto* nil_err = find(locals, "nilErr");
  REQUIRE(nil_err);
  REQUIRE(nil_err->children.size() == 1);
  CHECK(nil_err->children[0].type == "void");
  CHECK(nil_err->children[0].kind == 0);
  auto* err = find(locals, "err");
  REQUIRE(err);
  CHECK(err->children[0].type == "*errors.errorString");
  CHECK(err->children[0].children[0].children[0].value == "boom");
  auto* up = find(locals, "nilUp");
  REQUIRE(up);
  CHECK(up->value == "0");
  CHECK(up->children.size() == 1);
  auto* fn = find(locals, "closure");
  REQUIRE(fn);
  CHECK(fn->value == "main.inspect.func1");
  auto* list = find(locals, "list");
  REQUIRE(list);
  // Pointers do not add a recursion level: three nodes deep, the last without fields.
  CHECK(list->children[0].children[1].children[0].children[1].children[0].children.empty());
  CHECK(list->children[0].children[1].children[0].children[1].children[0].len == 2);

  auto globals = t.package_variables("^main\\.Global", kDefault);
  REQUIRE(globals.size() == 4);
  CHECK(globals[0].name == "main.GlobalInt");
  CHECK(globals[0].value == "42");
}

TEST_CASE("expressions and assignment", "[target][eval]") {
  auto s = run_to_stop("values");
  auto& t = *s.t;
  t.set_selected_goroutine(1);
  auto f = t.frame_for({-1, 1, 0, std::nullopt});
  auto ev = [&](const std::string& e) { return t.eval(e, f, kDefault); };
  CHECK(ev("n").value == "5");
  CHECK(ev("n + 2").value == "7");
  CHECK(ev("n * 3 == 15").value == "true");
  CHECK(ev("p.X").value == "3");
  CHECK(ev("pp.Y").value == "8");
  CHECK(ev("(*pp).X").value == "7");
  CHECK(ev("sl[2]").value == "30");
  CHECK(ev("len(sl)").value == "4");
  CHECK(ev("cap(sl[1:])").value == "3");
  CHECK(ev("m[\"b\"]").value == "2");
  CHECK(ev("mi[2]").value == "y");
  CHECK(ev("bigMap[9]").value == "81");
  CHECK(ev("main.GlobalInt").value == "42");
  CHECK(ev("GlobalStr").value == "global");
  CHECK(ev("list.Next.Next.Val").value == "3");
  CHECK(ev("sh.(main.Rect).Max.Y").value == "6");
  CHECK(ev("err != nil && nilErr == nil").value == "true");
  CHECK(ev("f64 * 2").value == "4.5");
  {
    // Delve's pointerToVariable: the pointer is not loaded, its child is `n` itself, OnlyAddr.
    const auto addr_of = ev("&n");
    CHECK(addr_of.value.empty());
    CHECK(addr_of.len == 0);
    CHECK(addr_of.children.at(0).name == "n");
    CHECK(addr_of.children.at(0).only_addr);
    CHECK(addr_of.children.at(0).value.empty());
    CHECK(ev("*&n").value == "5");
  }
  const auto addr = ev("pp").value;
  CHECK(ev("*(*\"main.Point\")(" + addr + ")").children.at(1).value == "8");
  CHECK(ev("s[0]").value == "115");
  CHECK_THROWS_AS(ev("nosuchvar"), target::EvalError);

  t.set_variable("n", "11", f);
  CHECK(t.eval("n", f, kDefault).value == "11");
  t.set_variable("f64", "0.5", f);
  CHECK(t.eval("f64", f, kDefault).value == "0.5");
  t.set_variable("pp", "nil", f);
  CHECK(t.eval("pp == nil", f, kDefault).value == "true");
}

TEST_CASE("conversions to and from strings match dlv", "[target][eval]") {
  auto s = run_to_stop("values");
  auto& t = *s.t;
  t.set_selected_goroutine(1);
  auto f = t.frame_for({-1, 1, 0, std::nullopt});
  auto ev = [&](const std::string& e) { return t.eval(e, f, kDefault); };
  const auto str_of = [&](const std::string& e) {
    const auto v = ev(e);
    CHECK(v.type == "string");
    CHECK(v.kind == 24);
    CHECK(v.addr == 0);
    CHECK(v.len == static_cast<std::int64_t>(v.value.size()));
    return v.value;
  };
  CHECK(str_of("string(by)") == "A");
  CHECK(str_of("string(r)") == "\xce\xbb");
  CHECK(str_of("string(65)") == "A");
  CHECK(str_of("string(-1)") == "\xef\xbf\xbd");
  CHECK(str_of("string(bs)") == "hello");
  CHECK(str_of("string(bs[:2])") == "he");
  CHECK(str_of("string([]byte(s))") == "str");
  CHECK(str_of("string([]rune(s))") == "str");

  // dlv's convertType: a slice without memory, each element at the string variable's
  // address plus its byte index; rune elements have kind Int.
  const auto s_addr = ev("s").addr;
  const auto bytes = ev("[]byte(s)");
  CHECK(bytes.name == "[]byte(s)");
  CHECK(bytes.type == "[]uint8");
  CHECK(bytes.kind == 23);
  CHECK(bytes.addr == 0);
  CHECK(bytes.len == 3);
  CHECK(bytes.cap == 3);
  REQUIRE(bytes.children.size() == 3);
  CHECK(bytes.children[1].value == "116");
  CHECK(bytes.children[1].type == "uint8");
  CHECK(bytes.children[1].kind == 7);
  CHECK(bytes.children[1].addr == s_addr + 1);

  const auto runes =
      ev("[]rune(\"a\xce\xbb"
         "b\")");
  CHECK(runes.type == "[]int32");
  REQUIRE(runes.children.size() == 3);
  CHECK(runes.children[1].value == "955");
  CHECK(runes.children[1].kind == 2);
  CHECK(runes.children[2].addr == 3);
  CHECK(ev("len([]byte(s))").value == "3");
  CHECK(ev("[]byte(bs)").name == "bs");
  {
    // A conversion to the operand's own type is the operand itself (name, flags, DeclLine).
    const auto same = ev("string(s)");
    CHECK(same.name == "s");
    CHECK(same.flags == target::kFlagArgument);
    CHECK(same.decl_line == 74);
    CHECK(same.addr == s_addr);
    CHECK(ev("int(n)").name == "n");
    CHECK(ev("main.Point(p).X").name == "p.X");
  }

  auto error_of = [&](const std::string& e) {
    try {
      ev(e);
    } catch (const target::EvalError& err) {
      return std::string(err.what());
    }
    return std::string("no error");
  };
  CHECK(error_of("[]byte(n)") == "can not convert \"n\" to []uint8");
  CHECK(error_of("string(f64)") == "can not convert \"f64\" to string");
  CHECK(error_of("[]byte(s)[0]") == "can not index \"[]byte(s)\"");
}

TEST_CASE("an optimized caller's string argument with its data pointer optimized out",
          "[target][variables]") {
  // main.inspect's `s` at the call of main.stop: DW_OP_piece 0x8 DW_OP_fbreg 0x28
  // DW_OP_piece 0x8, the pointer half optimized out. Delve's readStringInfo reads a nil
  // data pointer as the empty string: len 0, no error.
  auto s = run_to_stop("values_opt");
  auto& t = *s.t;
  t.set_selected_goroutine(1);
  auto f = t.frame_for({-1, 1, 0, std::nullopt});
  REQUIRE(f.call.function);
  CHECK(f.call.function->name == "main.inspect");
  const auto args = t.function_arguments(f, kDefault);
  const auto* str = find(args, "s");
  REQUIRE(str);
  CHECK(str->unreadable.empty());
  CHECK(str->value.empty());
  CHECK(str->len == 0);
  CHECK(str->base == 0);
}

TEST_CASE("a generic shape shows its type arguments, not its dictionary", "[target][variables]") {
  // Delve's resolveParametricType: x of type .param0 (go.shape.int_0) is an int, b a
  // main.Box[int], read from the runtime types in the `.dict` argument, which is not listed.
  auto s = run_to_function("diffx", "main.genericFn[go.shape.int_0]");
  auto& t = *s.t;
  t.set_selected_goroutine(1);
  auto f = t.frame_for({-1, 0, 0, std::nullopt});
  const auto args = t.function_arguments(f, kDefault);
  REQUIRE(args.size() == 3);
  CHECK(args[0].name == "x");
  CHECK(args[0].type == "int");
  CHECK(args[0].real_type == "int");
  CHECK(args[0].value == "3");
  CHECK(args[1].name == "b");
  CHECK(args[1].type == "main.Box[int]");
  REQUIRE(args[1].children.size() == 2);
  CHECK(args[1].children[0].type == "int");
  CHECK(args[1].children[0].value == "4");
  // The result has no value yet; without a dictionary Delve names the shape type.
  CHECK(args[2].name == "~r0");
  CHECK(args[2].type == "int");
  CHECK(t.eval("b.V", f, kDefault).type == "int");
  CHECK_THROWS_AS(t.eval(".dict", f, kDefault), target::EvalError);
  // No dictionary: a loader without one falls back to the shape type.
  const auto* fn = t.binary().debug().find_function("main.genericFn[go.shape.int_0]");
  REQUIRE(fn);
  const dwarf::Type* shape = fn->params[1].type;
  target::ValueLoader loader(t.binary(), [](std::uint64_t, std::span<std::byte>) { return false; });
  CHECK(loader.resolve_parametric(shape, 0)->name == "go.shape.int_0");
}

TEST_CASE("a local is visible from the line after its declaration", "[target][variables]") {
  // diffx main.helper stopped on `b := a + 1` (line 67): dlv does not show b yet.
  auto s = run_to_line("diffx", "diffx/main.go", 67);
  auto& t = *s.t;
  t.set_selected_goroutine(1);
  auto f = t.frame_for({-1, 0, 0, std::nullopt});
  REQUIRE(f.call.function_name() == "main.helper");
  CHECK(t.local_variables(f, kDefault).empty());
  CHECK(t.function_arguments(f, kDefault).size() == 2);
  try {
    t.eval("b", f, kDefault);
    FAIL("b is visible");
  } catch (const target::EvalError& e) {
    CHECK(std::string(e.what()) == "could not find symbol value for b");
  }
}

TEST_CASE("goroutines started by a go statement's wrapper start at the wrapped function",
          "[target][goroutines]") {
  // `go parkedOnChannel(c, &wg)` runs the wrapper main.main.func1.1 (DW_AT_trampoline);
  // Delve's startLoc is the function it calls.
  auto s = run_to_stop("values");
  auto& t = *s.t;
  std::vector<std::string> starts;
  for (const auto& g : t.goroutines()) {
    if (g.start.function_name().starts_with("main."))
      starts.push_back(g.start.function_name() + ":" + std::to_string(g.start.line));
  }
  std::sort(starts.begin(), starts.end());
  CHECK(starts == std::vector<std::string>{"main.parkedOnChannel:137", "main.parkedOnMutex:142"});
}

TEST_CASE("escaped parameters, deferred wrappers and zones as dlv shows them",
          "[target][variables]") {
  auto s = run_to_function("viewx", "main.viewStop");
  auto& t = *s.t;
  t.set_selected_goroutine(1);
  auto f = t.frame_for({-1, 1, 0, std::nullopt});
  REQUIRE(f.call.function_name() == "main.escapes");
  // Go describes an escaped parameter twice: `p` (the value passed) and `&p` (its heap
  // copy, a local). dlv 1.20.2 lists the copy among the locals (Escaped only, no Argument
  // flag) and the parameter as shadowed by it.
  const auto args = t.function_arguments(f, kDefault);
  const auto* arg_p = find(args, "p");
  REQUIRE(arg_p);
  CHECK(arg_p->flags == (target::kFlagArgument | target::kFlagShadowed));
  CHECK(find(args, "q") != nullptr);
  const auto locals = t.local_variables(f, kDefault);
  const auto* p = find(locals, "p");
  REQUIRE(p);
  CHECK(p->flags == target::kFlagEscaped);
  CHECK(p->value == "7");
  REQUIRE(!locals.empty());
  CHECK(locals[0].name == "p");  // parameters sort before the locals (lexical depth 0)
  // The zone of a time.Time is read from the host's tz database, as Go reads it.
  if (std::FILE* tz = std::fopen("/usr/share/zoneinfo/America/New_York", "rb")) {
    std::fclose(tz);
    const auto* when = find(locals, "when");
    REQUIRE(when);
    CHECK(when->value == "2023-03-14T15:09:26-04:00");
  }
  // A map caught growing (53 entries: 8 old buckets being evacuated into 16): Delve's
  // mapIterator visits an unevacuated old bucket once, from the first of its two new
  // buckets, so every entry shows up exactly once.
  {
    const target::LoadConfig all{true, 1, 64, 200, -1};
    const auto full = t.local_variables(f, all);
    const auto* growing = find(full, "growing");
    REQUIRE(growing);
    CHECK(growing->len == 53);
    REQUIRE(growing->children.size() == 106);
    std::map<int, int> seen;
    for (std::size_t i = 0; i < growing->children.size(); i += 2)
      seen[std::stoi(growing->children[i].value)] = std::stoi(growing->children[i + 1].value);
    CHECK(seen.size() == 53);
    for (const auto& [k, v] : seen) CHECK(v == k * 10);
  }
  // `defer record(x)` runs a wrapper; Delve's DeferredFunc shows main.record. Innermost
  // first.
  auto g = t.goroutine_of_thread(s.tid);
  REQUIRE(g);
  const auto frames = t.stacktrace(*g, 2, true);
  REQUIRE(frames.size() >= 2);
  REQUIRE(frames[1].defers.size() == 2);
  for (const auto& d : frames[1].defers) {
    CHECK(d.deferred.function_name() == "main.record");
    CHECK(d.deferred.line == 33);
  }
  CHECK(frames[1].defers[0].defer.line == 44);
  CHECK(frames[1].defers[1].defer.line == 43);
}

TEST_CASE("Delve's constant arithmetic, conversions and error texts", "[target][eval]") {
  auto s = run_to_stop("values");
  auto& t = *s.t;
  t.set_selected_goroutine(1);
  auto f = t.frame_for({-1, 1, 0, std::nullopt});
  auto ev = [&](const std::string& e) { return t.eval(e, f, kDefault); };
  auto error_of = [&](const std::string& e) {
    try {
      ev(e);
    } catch (const target::EvalError& err) {
      return std::string(err.what());
    }
    return std::string("no error");
  };
  const auto sum = ev("c128 + c128");
  CHECK(sum.type == "complex128");
  CHECK(sum.value == "(-3 + 1i)");
  REQUIRE(sum.children.size() == 2);
  CHECK(sum.children[1].value == "1");
  CHECK(ev("real(complex(1, 2))").kind == 2);  // an exact integer part stays an Int
  CHECK(ev("7 / 2").value == "3.5");
  CHECK(ev("n / 2").value == "2");
  CHECK(ev("1 << 70").value == "1180591620717411303424");
  CHECK(ev("uint8(300)").value == "44");
  CHECK(ev("s[1:]").flags == target::kFlagArgument);  // a reslice keeps the operand's flags
  CHECK(ev("s[0]").type == "byte");
  const auto arr = ev("*(*[3]int)(" + std::to_string(ev("&arr").children.at(0).addr) + ")");
  CHECK(arr.type == "[3]int");
  CHECK(arr.children.at(2).value == "3");
  CHECK(error_of("f64 % 2") == "invalid binary operation 2.25 % 2");
  CHECK(error_of("nilSl[0]") == "can not index \"nilSl\"");
  CHECK(error_of("mi[\"x\"]") == "can not convert \"x\" constant to int");
  CHECK(error_of("[]main.Point{}") == "expression *ast.CompositeLit not implemented");
  CHECK(error_of("n +") == "1:4: expected operand, found 'EOF'");
  CHECK(error_of("(n") == "1:3: expected ')', found newline");
  CHECK(error_of("main.Point(pp)") == "can not convert \"pp\" to struct main.Point");
  CHECK(error_of("stop(1)") == "function calls not allowed without using 'call'");
  t.set_variable("c128", "2", f);
  CHECK(ev("c128").value == "(2 + 0i)");
  try {
    t.set_variable("b", "3", f);
    FAIL("assigned 3 to a bool");
  } catch (const target::EvalError& e) {
    CHECK(std::string(e.what()) == "can not convert 3 constant to bool");
  }
}
