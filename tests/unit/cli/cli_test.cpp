// The command line parsed as dlv 1.20.2's cobra/pflag parse it; the texts are dlv's (run
// `dlv <line>` to see them), with goscope's name.
#include <catch2/catch.hpp>

#include "cli_spec.hpp"
#include "options.hpp"

using namespace goscope::cli;

namespace {

Command P(std::vector<std::string> a) {
  return parse(a);
}

std::string usage_error(std::vector<std::string> a) {
  try {
    parse(a);
  } catch (const UsageError& e) {
    return e.what();
  } catch (const UnknownCommand& e) {
    return std::string("unknown: ") + e.what();
  }
  return "(parsed)";
}

}  // namespace

TEST_CASE("GoLand's line: global flags before the verb, `--` without arguments") {
  const auto c = P({"--listen=localhost:57595", "--headless=true", "--api-version=2",
                    "--check-go-version=false", "--only-same-user=false", "exec", "/b/app", "--"});
  CHECK(c.verb == Verb::exec);
  CHECK(c.server.target == "/b/app");
  CHECK(c.server.args.empty());
  CHECK(c.server.headless);
  CHECK(c.server.listen == "localhost:57595");
  CHECK(c.server.api_version == 2);
  CHECK_FALSE(c.server.check_go_version);
  CHECK_FALSE(c.server.only_same_user);
}

TEST_CASE("flags anywhere, every spelling") {
  auto c = P({"--headless", "exec", "/b/app", "--listen=127.0.0.1:0"});
  CHECK(c.verb == Verb::exec);
  CHECK(c.server.headless);
  CHECK(c.server.listen == "127.0.0.1:0");
  CHECK(P({"exec", "x", "-l", "1.2.3.4:5"}).server.listen == "1.2.3.4:5");
  CHECK(P({"exec", "x", "-l1.2.3.4:5"}).server.listen == "1.2.3.4:5");
  CHECK(P({"exec", "x", "-l=1.2.3.4:5"}).server.listen == "1.2.3.4:5");
  CHECK(P({"--listen", ":2345", "exec", "x"}).server.listen == ":2345");
  CHECK(P({"-l", ":2345", "exec", "x"}).server.target == "x");
  CHECK_FALSE(P({"exec", "x", "--headless=false"}).server.headless);
  CHECK(P({"exec", "x", "--headless=T"}).server.headless);
  CHECK(P({"exec", "x", "--api-version", "0x2"}).server.api_version == 2);
  CHECK(P({"exec", "x", "--api-version", "0_2"}).server.api_version == 2);
  CHECK(usage_error({"exec", "x", "--api-version=_2"}) ==
        "invalid argument \"_2\" for \"--api-version\" flag: strconv.ParseInt: parsing "
        "\"_2\": invalid syntax");
  CHECK(usage_error({"exec", "x", "--api-version=99999999999999999999"}) ==
        "invalid argument \"99999999999999999999\" for \"--api-version\" flag: "
        "strconv.ParseInt: parsing \"99999999999999999999\": value out of range");
  // --continue is exec's own flag, accepted before the verb in its `=` form (cobra parses
  // the whole line with the verb's flag set; without `=`, the verb lookup takes the next
  // word as the unknown flag's value, as dlv does).
  CHECK(P({"--accept-multiclient", "--continue=true", "exec", "x"}).server.continue_after_start);
  CHECK(usage_error({"--continue", "exec", "x"}) ==
        "unknown: unknown command \"x\" for \"goscope\"");
}

TEST_CASE("the target's arguments: exec takes all words, debug/test split at --") {
  auto e = P({"exec", "bin", "a", "--headless", "--", "b", "--c"});
  CHECK(e.server.target == "bin");
  CHECK(e.server.args == std::vector<std::string>{"a", "b", "--c"});
  auto d = P({"debug", "./pkg", "extra", "--", "x", "-y"});
  CHECK(d.verb == Verb::debug);
  CHECK(d.server.packages == std::vector<std::string>{"./pkg", "extra"});
  CHECK(d.server.args == std::vector<std::string>{"x", "-y"});
  CHECK(d.server.output == "./__debug_bin");
  CHECK(P({"test"}).server.output == "debug.test");
  auto a = P({"attach", "123", "/bin/x"});
  CHECK(a.server.target == "123");
  CHECK(a.server.attach_executable == "/bin/x");
}

TEST_CASE("dap's flags") {
  auto d = P({"dap", "--listen=127.0.0.1:1", "--log-dest=3", "--log", "--log-output=dap",
              "--client-addr=:4", "--check-go-version=false", "--only-same-user=false",
              "--build-flags=-tags=x"});
  CHECK(d.verb == Verb::dap);
  CHECK(d.server.log_dest == "3");
  CHECK(d.server.client_addr == ":4");
  CHECK(d.server.build_flags == "-tags=x");
  CHECK(P({"dap", "-l", "127.0.0.1:9"}).server.listen == "127.0.0.1:9");
  CHECK(P({"dap", "--listen", "127.0.0.1:9"}).server.listen == "127.0.0.1:9");
}

TEST_CASE("dlv's error texts") {
  CHECK(usage_error({"exec", "x", "--foo"}) == "unknown flag: --foo");
  CHECK(usage_error({"exec", "x", "-x"}) == "unknown shorthand flag: 'x' in -x");
  CHECK(usage_error({"exec", "x", "--headless=maybe"}) ==
        "invalid argument \"maybe\" for \"--headless\" flag: strconv.ParseBool: parsing "
        "\"maybe\": invalid syntax");
  CHECK(usage_error({"exec", "x", "--api-version=x"}) ==
        "invalid argument \"x\" for \"--api-version\" flag: strconv.ParseInt: parsing \"x\": "
        "invalid syntax");
  CHECK(usage_error({"exec", "x", "--listen"}) == "flag needs an argument: --listen");
  CHECK(usage_error({"exec", "x", "-l"}) == "flag needs an argument: 'l' in -l");
  CHECK(usage_error({"exec"}) == "you must provide a path to a binary");
  CHECK(usage_error({"attach"}) == "you must provide a PID");
  CHECK(usage_error({"connect"}) == "you must provide an address as the first argument");
  CHECK(usage_error({"core", "a"}) == "you must provide a core file and an executable");
  CHECK(usage_error({"test", "--continue"}) == "unknown flag: --continue");
  CHECK(usage_error({"test", "--tty", "x"}) == "unknown flag: --tty");
  CHECK(usage_error({"foo"}) == "unknown: unknown command \"foo\" for \"goscope\"");
  CHECK(usage_error({"exce"}) ==
        "unknown: unknown command \"exce\" for \"goscope\"\n\nDid you mean this?\n\texec\n");
  // cobra's stripFlags takes `exec` as --foo's value: the binary becomes the command.
  CHECK(usage_error({"--foo", "exec", "bin"}) ==
        "unknown: unknown command \"bin\" for \"goscope\"\n\nDid you mean this?\n\trun\n");
  CHECK(usage_error({"--bogus"}) == "unknown flag: --bogus");
  CHECK(usage_error({"exec", "x", "---a"}) == "bad flag syntax: ---a");
}

TEST_CASE("help on every verb, help VERB, version") {
  auto h = P({"test", "--help"});
  CHECK(h.verb == Verb::help);
  CHECK(h.help_text.rfind("Compiles a test binary with optimizations disabled", 0) == 0);
  CHECK(P({"exec", "-h"}).help_text == help_text("exec"));
  CHECK(P({"help", "exec"}).help_text == help_text("exec"));
  CHECK(P({}).help_text == help_text(""));
  CHECK(P({"--headless"}).verb == Verb::help);
  CHECK(usage_error({"help", "foo"}) == "Unknown help topic [`foo`]");
  CHECK(P({"help", "log"}).help_text.rfind("Logging can be enabled", 0) == 0);
  auto v = P({"version", "-v"});
  CHECK(v.verb == Verb::version);
  CHECK(v.verbose);
  CHECK(P({"--version"}).verb == Verb::version);
}

TEST_CASE("pflag's column layout") {
  const std::string u = usage_text("exec");
  CHECK(u.rfind("Usage:\n  goscope exec <path/to/binary> [flags]\n\nFlags:\n"
                "      --continue     Continue the debugged process on start.\n"
                "  -h, --help         help for exec\n"
                "      --tty string   TTY to use for the target program\n\nGlobal Flags:\n",
                0) == 0);
  CHECK(u.find("  -r, --redirect stringArray             Specifies redirect rules") !=
        std::string::npos);
  CHECK(u.find("(default \"127.0.0.1:0\")") != std::string::npos);
  CHECK(u.find("--only-same-user                   Only connections") != std::string::npos);
  CHECK(usage_text("").find("\nAvailable Commands:\n  attach      Attach to running process") !=
        std::string::npos);
}

TEST_CASE("redirects as dlv's parseRedirects") {
  auto r = parse_redirects({"stdout:o", "i", "stderr:e"});
  CHECK(r[0] == "i");
  CHECK(r[1] == "o");
  CHECK(r[2] == "e");
  CHECK_THROWS_WITH(parse_redirects({"stdin:a", "b"}), "redirect error: stdin redirected twice");
  auto c = P({"exec", "x", "-r", "stdout:o", "--redirect=i"});
  CHECK(c.server.redirects == std::vector<std::string>{"stdout:o", "i"});
}
