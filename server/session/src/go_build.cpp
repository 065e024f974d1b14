#include "session/go_build.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace goscope::session {

bool go_build(bool test, const std::optional<std::string>& package, const std::string& output,
              const std::vector<std::string>& extra_flags, const std::string& dir) {
  std::vector<std::string> argv = {"go"};
  if (test) {
    argv.insert(argv.end(), {"test", "-c"});
  } else {
    argv.push_back("build");
  }
  argv.insert(argv.end(), {"-gcflags=all=-N -l", "-o", output});
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  if (package)
    argv.push_back(*package);

  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const pid_t child = fork();
  if (child < 0)
    return false;
  if (child == 0) {
    if (!dir.empty() && chdir(dir.c_str()) != 0)
      _exit(127);
    execvp(cargv[0], cargv.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace goscope::session
