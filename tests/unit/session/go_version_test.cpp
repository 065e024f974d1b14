// --check-go-version: dlv 1.20.2's range (Go 1.18 to 1.20) and texts.
#include <catch2/catch.hpp>

#include "session/go_version.hpp"

using goscope::session::check_go_version;

TEST_CASE("check-go-version: Go 1.18 to 1.20 pass, development toolchains pass") {
  for (const char* p :
       {"Go cmd/compile go1.19.8; regabi", "Go cmd/compile go1.18", "Go cmd/compile go1.20.14",
        "Go cmd/compile devel go1.22-abc", "", "go1.20rc1"}) {
    const auto c = check_go_version(p, true);
    CHECK_FALSE(c.error);
    CHECK_FALSE(c.warning);
  }
}

TEST_CASE("check-go-version: too old and too new are refused with Delve's texts") {
  auto c = check_go_version("Go cmd/compile go1.17.13; regabi", true);
  REQUIRE(c.error);
  CHECK(*c.error ==
        "Go version 1.17.13 is too old for this version of Delve (minimum supported version "
        "1.18, suppress this error with --check-go-version=false)");
  c = check_go_version("Go cmd/compile go1.21.0", true);
  REQUIRE(c.error);
  CHECK(*c.error ==
        "Version of Delve is too old for Go version 1.21.0 (maximum supported version 1.20, "
        "suppress this error with --check-go-version=false)");
}

TEST_CASE("check-go-version=false: a warning instead") {
  auto c = check_go_version("Go cmd/compile go1.21.3", false);
  CHECK_FALSE(c.error);
  REQUIRE(c.warning);
  CHECK(*c.warning ==
        "WARNING: undefined behavior - version of Delve is too old for Go version 1.21.3 "
        "(maximum supported version 1.20)");
  c = check_go_version("Go cmd/compile go1.16", false);
  REQUIRE(c.warning);
  CHECK(*c.warning ==
        "WARNING: undefined behavior - Go version 1.16.0 is too old for this version of Delve "
        "(minimum supported version 1.18)");
}
