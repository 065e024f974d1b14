// Delve's declaration-line rule for the variables a scope or a trace event shows.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "dwarf/debug_info.hpp"
#include "target/binary_info.hpp"
#include "target/variable_visibility.hpp"

using namespace goscope;

namespace {

std::vector<std::string> names(const std::vector<const dwarf::Variable*>& vars) {
  std::vector<std::string> out;
  for (const auto* v : vars) out.push_back(v->name);
  return out;
}

}  // namespace

TEST_CASE("a parameter is visible on its declaration line, a local from the next",
          "[target][visibility]") {
  dwarf::Variable param;
  param.is_parameter = true;
  param.decl_line = 10;
  CHECK_FALSE(target::visible_at_line(param, 9));
  CHECK(target::visible_at_line(param, 10));
  dwarf::Variable local;
  local.decl_line = 10;
  CHECK_FALSE(target::visible_at_line(local, 10));
  CHECK(target::visible_at_line(local, 11));
  dwarf::Variable undeclared;  // no DW_AT_decl_line: always visible
  CHECK(target::visible_at_line(undeclared, 0));
}

TEST_CASE("a trace entry of a multi-line signature reports none of its parameters",
          "[target][visibility]") {
  // diffx's main.multiline declares a, s on the lines after `func multiline(` and its
  // results below them: dlv trace prints `main.multiline()` and `=> (4,error nil)`.
  for (const char* name : {"/diffx", "/diffx_opt"}) {
    auto bi = target::BinaryInfo::load(std::string(GOSCOPE_FIXTURE_DIR) + name);
    const auto* fn = bi->debug().find_function("main.multiline");
    REQUIRE(fn != nullptr);
    CHECK(target::traced_variables(*bi, *fn, nullptr, false, bi->to_virt(fn->low_pc).value())
              .empty());
    // On `return x, nil` (line 122) the results are visible.
    const auto at_return = bi->debug().lines().addresses_for("diffx/main.go", 122);
    REQUIRE_FALSE(at_return.empty());
    const auto ret = bi->to_virt(at_return.front()).value();
    CHECK(names(target::traced_variables(*bi, *fn, nullptr, true, ret)) ==
          std::vector<std::string>{"n", "err"});
    // main.helper's parameter is on the `func` line: shown.
    const auto* helper = bi->debug().find_function("main.helper");
    REQUIRE(helper != nullptr);
    CHECK(names(target::traced_variables(*bi, *helper, nullptr, false,
                                         bi->to_virt(helper->low_pc).value())) ==
          std::vector<std::string>{"a"});
  }
}
