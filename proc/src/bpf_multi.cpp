// BPF_TRACE_UPROBE_MULTI links. Debian 12's kernel headers predate them (Linux 6.6), so the
// attribute layout is spelled out here.
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "proc/bpf.hpp"
#include "proc/error.hpp"

namespace goscope::proc::bpf {
namespace {

constexpr int kBpfLinkCreate = 28;

// union bpf_attr's link_create member as Linux >= 6.6 lays it out for uprobe_multi.
struct LinkCreateUprobeMulti {
  std::uint32_t prog_fd;
  std::uint32_t target_fd;
  std::uint32_t attach_type;
  std::uint32_t flags;
  std::uint64_t path;
  std::uint64_t offsets;
  std::uint64_t ref_ctr_offsets;
  std::uint64_t cookies;
  std::uint32_t cnt;
  std::uint32_t multi_flags;
  std::uint32_t pid;
  std::uint32_t pad;
};

}  // namespace

MultiLink MultiLink::attach(const Program& prog, const std::string& path, pid_t pid,
                            std::span<const std::uint64_t> offsets,
                            std::span<const std::uint64_t> cookies) {
  if (offsets.size() != cookies.size() || offsets.empty())
    Error::send("uprobe_multi: need one cookie per offset");
  // The kernel reads up to sizeof(union bpf_attr); unused bytes must be zero.
  alignas(8) unsigned char attr[160] = {};
  LinkCreateUprobeMulti lc{};
  lc.prog_fd = static_cast<std::uint32_t>(prog.fd());
  lc.attach_type = kUprobeMultiAttach;
  lc.path = reinterpret_cast<std::uint64_t>(path.c_str());
  lc.offsets = reinterpret_cast<std::uint64_t>(offsets.data());
  lc.cookies = reinterpret_cast<std::uint64_t>(cookies.data());
  lc.cnt = static_cast<std::uint32_t>(offsets.size());
  lc.pid = static_cast<std::uint32_t>(pid);
  static_assert(sizeof lc <= sizeof attr);
  std::memcpy(attr, &lc, sizeof lc);
  long fd = ::syscall(__NR_bpf, kBpfLinkCreate, attr, sizeof attr);
  if (fd < 0)
    Error::send_errno("bpf(BPF_LINK_CREATE uprobe_multi " + path + ", " +
                      std::to_string(offsets.size()) + " offsets)");
  MultiLink l;
  l.fd_.reset(static_cast<int>(fd));
  return l;
}

}  // namespace goscope::proc::bpf
