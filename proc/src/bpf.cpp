#include "proc/bpf.hpp"

#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <mutex>
#include <sstream>

#include "proc/error.hpp"

namespace goscope::proc::bpf {

namespace {

constexpr const char* kUprobeTypePath = "/sys/bus/event_source/devices/uprobe/type";

long sys_bpf(int cmd, union bpf_attr& attr) {
  return ::syscall(__NR_bpf, cmd, &attr, sizeof attr);
}

std::uint64_t ptr_to_u64(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p);
}

// The kernel refuses object names with other characters (bpf_obj_name_cpy) and keeps 15
// plus the NUL.
void copy_name(char (&dst)[BPF_OBJ_NAME_LEN], const std::string& name) {
  std::size_t n = std::min(name.size(), sizeof dst - 1);
  for (std::size_t i = 0; i < n; ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.';
    dst[i] = ok ? c : '_';
  }
  dst[n] = '\0';
}

std::string read_first_line(const char* path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line))
    return {};
  return line;
}

// -1 when there is no uprobe PMU (kernel without CONFIG_UPROBE_EVENTS, or no sysfs).
int uprobe_pmu_type() {
  static const int type = [] {
    std::string s = read_first_line(kUprobeTypePath);
    if (s.empty())
      return -1;
    try {
      return std::stoi(s);
    } catch (const std::exception&) {
      return -1;
    }
  }();
  return type;
}

// Loads without a log first: asking for one makes the verifier format every instruction
// it walks, which costs more than the verification itself on large programs.
int load_program(std::span<const Insn> insns, const std::string& name, std::string* log,
                 std::uint32_t expected_attach_type) {
  static const char kLicense[] = "GPL";
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_KPROBE;
  attr.insns = ptr_to_u64(insns.data());
  attr.insn_cnt = static_cast<std::uint32_t>(insns.size());
  attr.license = ptr_to_u64(kLicense);
  attr.kern_version = 0;
  attr.expected_attach_type = expected_attach_type;
  copy_name(attr.prog_name, name);
  std::vector<char> buf;
  if (log != nullptr) {
    // Kernels before 6.4 keep the head of an overflowing log and we want its tail (where
    // the refusal is), so the buffer is large.
    buf.assign(std::size_t{4} << 20, '\0');
    attr.log_level = 1;
    attr.log_buf = ptr_to_u64(buf.data());
    attr.log_size = static_cast<std::uint32_t>(buf.size());
  }
  long fd = -1;
  // The verifier can give up transiently (EAGAIN, e.g. a pending signal).
  for (int attempt = 0; attempt < 5; ++attempt) {
    fd = sys_bpf(BPF_PROG_LOAD, attr);
    if (fd >= 0 || errno != EAGAIN)
      break;
  }
  if (log != nullptr) {
    int saved = errno;
    log->assign(buf.data(), ::strnlen(buf.data(), buf.size()));
    errno = saved;
  }
  return static_cast<int>(fd);
}

std::string log_tail(std::string log) {
  constexpr std::size_t kMax = 4096;
  while (!log.empty() && (log.back() == '\n' || log.back() == ' ' || log.back() == '\0'))
    log.pop_back();
  if (log.size() > kMax) {
    std::size_t start = log.find('\n', log.size() - kMax);
    log = "...\n" + log.substr(start == std::string::npos ? log.size() - kMax : start + 1);
  }
  return log;
}

bool is_percpu(Map::Type t) {
  // BPF_MAP_TYPE_PERCPU_HASH, _PERCPU_ARRAY, _LRU_PERCPU_HASH, _PERCPU_CGROUP_STORAGE
  auto v = static_cast<std::uint32_t>(t);
  return v == BPF_MAP_TYPE_PERCPU_HASH || v == BPF_MAP_TYPE_PERCPU_ARRAY ||
         v == BPF_MAP_TYPE_LRU_PERCPU_HASH || v == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

std::size_t page_size() {
  static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

}  // namespace

// --- Assembler ---------------------------------------------------------------------------

namespace {

Insn make(std::uint8_t code, Reg dst, Reg src, std::int16_t off, std::int32_t imm) {
  return Insn{code, static_cast<std::uint8_t>(dst | (src << 4)), off, imm};
}

std::uint8_t size_code(Size s) {
  switch (s) {
    case Size::b8:
      return BPF_B;
    case Size::b16:
      return BPF_H;
    case Size::b32:
      return BPF_W;
    case Size::b64:
      return BPF_DW;
  }
  return BPF_DW;
}

std::uint8_t cond_code(Cond c) {
  switch (c) {
    case Cond::eq:
      return BPF_JEQ;
    case Cond::ne:
      return BPF_JNE;
    case Cond::gt:
      return BPF_JGT;
    case Cond::ge:
      return BPF_JGE;
    case Cond::lt:
      return BPF_JLT;
    case Cond::le:
      return BPF_JLE;
    case Cond::sgt:
      return BPF_JSGT;
    case Cond::sge:
      return BPF_JSGE;
    case Cond::slt:
      return BPF_JSLT;
    case Cond::sle:
      return BPF_JSLE;
    case Cond::set:
      return BPF_JSET;
  }
  return BPF_JEQ;
}

constexpr std::uint8_t alu64(std::uint8_t op, std::uint8_t src) {
  return static_cast<std::uint8_t>(BPF_ALU64 | op | src);
}

}  // namespace

void Assembler::mov(Reg dst, Reg src) {
  insns_.push_back(make(alu64(BPF_MOV, BPF_X), dst, src, 0, 0));
}
void Assembler::mov(Reg dst, std::int32_t imm) {
  insns_.push_back(make(alu64(BPF_MOV, BPF_K), dst, R0, 0, imm));
}
void Assembler::add(Reg dst, Reg src) {
  insns_.push_back(make(alu64(BPF_ADD, BPF_X), dst, src, 0, 0));
}
void Assembler::add(Reg dst, std::int32_t imm) {
  insns_.push_back(make(alu64(BPF_ADD, BPF_K), dst, R0, 0, imm));
}
void Assembler::sub(Reg dst, Reg src) {
  insns_.push_back(make(alu64(BPF_SUB, BPF_X), dst, src, 0, 0));
}
void Assembler::mul(Reg dst, std::int32_t imm) {
  insns_.push_back(make(alu64(BPF_MUL, BPF_K), dst, R0, 0, imm));
}
void Assembler::lsh(Reg dst, std::int32_t imm) {
  insns_.push_back(make(alu64(BPF_LSH, BPF_K), dst, R0, 0, imm));
}
void Assembler::lsh(Reg dst, Reg src) {
  insns_.push_back(make(alu64(BPF_LSH, BPF_X), dst, src, 0, 0));
}
void Assembler::rsh(Reg dst, std::int32_t imm) {
  insns_.push_back(make(alu64(BPF_RSH, BPF_K), dst, R0, 0, imm));
}
void Assembler::band(Reg dst, std::int32_t imm) {
  insns_.push_back(make(alu64(BPF_AND, BPF_K), dst, R0, 0, imm));
}
void Assembler::bor(Reg dst, std::int32_t imm) {
  insns_.push_back(make(alu64(BPF_OR, BPF_K), dst, R0, 0, imm));
}

void Assembler::ld_imm64(Reg dst, std::uint64_t imm) {
  insns_.push_back(make(BPF_LD | BPF_DW | BPF_IMM, dst, R0, 0,
                        static_cast<std::int32_t>(static_cast<std::uint32_t>(imm))));
  insns_.push_back(make(0, R0, R0, 0, static_cast<std::int32_t>(imm >> 32)));
}

void Assembler::ld_map_fd(Reg dst, int map_fd) {
  insns_.push_back(
      make(BPF_LD | BPF_DW | BPF_IMM, dst, static_cast<Reg>(BPF_PSEUDO_MAP_FD), 0, map_fd));
  insns_.push_back(make(0, R0, R0, 0, 0));
}

void Assembler::ldx(Size size, Reg dst, Reg src, std::int16_t off) {
  insns_.push_back(
      make(static_cast<std::uint8_t>(BPF_LDX | BPF_MEM | size_code(size)), dst, src, off, 0));
}

void Assembler::stx(Size size, Reg dst, std::int16_t off, Reg src) {
  insns_.push_back(
      make(static_cast<std::uint8_t>(BPF_STX | BPF_MEM | size_code(size)), dst, src, off, 0));
}

void Assembler::st(Size size, Reg dst, std::int16_t off, std::int32_t imm) {
  insns_.push_back(
      make(static_cast<std::uint8_t>(BPF_ST | BPF_MEM | size_code(size)), dst, R0, off, imm));
}

Assembler::Label Assembler::new_label() {
  labels_.push_back(-1);
  return Label{labels_.size() - 1};
}

void Assembler::bind(Label l) {
  if (l.id >= labels_.size())
    Error::send("bpf assembler: unknown label");
  if (labels_[l.id] >= 0)
    Error::send("bpf assembler: label bound twice");
  labels_[l.id] = static_cast<std::ptrdiff_t>(insns_.size());
}

void Assembler::jmp(Label l) {
  fixups_.push_back({insns_.size(), l.id});
  insns_.push_back(make(BPF_JMP | BPF_JA, R0, R0, 0, 0));
}

void Assembler::jcc(Cond c, Reg a, std::int32_t imm, Label l) {
  fixups_.push_back({insns_.size(), l.id});
  insns_.push_back(make(static_cast<std::uint8_t>(BPF_JMP | cond_code(c) | BPF_K), a, R0, 0, imm));
}

void Assembler::jcc(Cond c, Reg a, Reg b, Label l) {
  fixups_.push_back({insns_.size(), l.id});
  insns_.push_back(make(static_cast<std::uint8_t>(BPF_JMP | cond_code(c) | BPF_X), a, b, 0, 0));
}

void Assembler::call(Helper h) {
  insns_.push_back(make(BPF_JMP | BPF_CALL, R0, R0, 0, static_cast<std::int32_t>(h)));
}

void Assembler::exit() {
  insns_.push_back(make(BPF_JMP | BPF_EXIT, R0, R0, 0, 0));
}

std::vector<Insn> Assembler::finish() const {
  std::vector<Insn> out = insns_;
  for (const Fixup& f : fixups_) {
    if (f.label >= labels_.size() || labels_[f.label] < 0)
      Error::send("bpf assembler: jump to an unbound label");
    std::ptrdiff_t off = labels_[f.label] - static_cast<std::ptrdiff_t>(f.insn + 1);
    if (off < std::numeric_limits<std::int16_t>::min() ||
        off > std::numeric_limits<std::int16_t>::max()) {
      Error::send("bpf assembler: jump out of range");
    }
    out[f.insn].off = static_cast<std::int16_t>(off);
  }
  return out;
}

// --- availability ------------------------------------------------------------------------

bool available(std::string* why) {
  struct Result {
    bool ok = false;
    std::string why;
  };
  static const Result result = [] {
    Result r;
    if (uprobe_pmu_type() < 0) {
      r.why = std::string("no uprobe PMU: cannot read ") + kUprobeTypePath;
      return r;
    }
    Assembler a;
    a.mov(R0, 0);
    a.exit();
    auto insns = a.finish();
    int fd = load_program(insns, "goscope_probe", nullptr, 0);
    if (fd < 0) {
      r.why = std::string("bpf(BPF_PROG_LOAD): ") + std::strerror(errno);
      return r;
    }
    ::close(fd);
    r.ok = true;
    return r;
  }();
  if (why != nullptr)
    *why = result.why;
  return result.ok;
}

unsigned possible_cpus() {
  static const unsigned n = [] {
    // A list of ranges such as "0-3" or "0,2-5".
    std::string s = read_first_line("/sys/devices/system/cpu/possible");
    unsigned count = 0;
    std::stringstream ss(s);
    std::string part;
    while (std::getline(ss, part, ',')) {
      unsigned lo = 0, hi = 0;
      char dash = 0;
      std::stringstream ps(part);
      if (!(ps >> lo))
        continue;
      hi = lo;
      if (ps >> dash && dash == '-')
        ps >> hi;
      if (hi >= lo)
        count += hi - lo + 1;
    }
    if (count == 0) {
      long conf = ::sysconf(_SC_NPROCESSORS_CONF);
      count = conf > 0 ? static_cast<unsigned>(conf) : 1;
    }
    return count;
  }();
  return n;
}

// --- Map ---------------------------------------------------------------------------------

Map Map::create(Type type, std::uint32_t key_size, std::uint32_t value_size,
                std::uint32_t max_entries, const std::string& name) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.map_type = static_cast<std::uint32_t>(type);
  attr.key_size = key_size;
  attr.value_size = value_size;
  attr.max_entries = max_entries;
  copy_name(attr.map_name, name);
  long fd = sys_bpf(BPF_MAP_CREATE, attr);
  if (fd < 0)
    Error::send_errno("bpf(BPF_MAP_CREATE) " + name);
  Map m;
  m.fd_.reset(static_cast<int>(fd));
  m.type_ = type;
  m.key_size_ = key_size;
  m.value_size_ = value_size;
  return m;
}

std::size_t Map::value_bytes() const {
  if (is_percpu(type_))
    return ((std::size_t{value_size_} + 7) & ~std::size_t{7}) * possible_cpus();
  return value_size_;
}

void Map::update(std::span<const std::byte> key, std::span<const std::byte> value) {
  if (key.size() < key_size_ || value.size() < value_bytes())
    Error::send("bpf map update: key or value shorter than the map's");
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.map_fd = static_cast<std::uint32_t>(fd_.get());
  attr.key = ptr_to_u64(key.data());
  attr.value = ptr_to_u64(value.data());
  attr.flags = BPF_ANY;
  if (sys_bpf(BPF_MAP_UPDATE_ELEM, attr) < 0)
    Error::send_errno("bpf(BPF_MAP_UPDATE_ELEM)");
}

bool Map::lookup(std::span<const std::byte> key, std::span<std::byte> value) const {
  if (key.size() < key_size_ || value.size() < value_bytes())
    Error::send("bpf map lookup: key or value shorter than the map's");
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.map_fd = static_cast<std::uint32_t>(fd_.get());
  attr.key = ptr_to_u64(key.data());
  attr.value = ptr_to_u64(value.data());
  if (sys_bpf(BPF_MAP_LOOKUP_ELEM, attr) < 0) {
    if (errno == ENOENT)
      return false;
    Error::send_errno("bpf(BPF_MAP_LOOKUP_ELEM)");
  }
  return true;
}

// --- Program -----------------------------------------------------------------------------

Program Program::load(std::span<const Insn> insns, const std::string& name,
                      std::uint32_t expected_attach_type) {
  int fd = load_program(insns, name, nullptr, expected_attach_type);
  if (fd < 0) {
    // The first errno is the refusal; the logged retry may fail differently (ENOSPC when
    // the log overflows on kernels that report it).
    int refused = errno;
    std::string log;
    fd = load_program(insns, name, &log, expected_attach_type);
    if (fd < 0) {
      std::string msg = "bpf program " + name + " refused: " + std::strerror(refused);
      std::string tail = log_tail(std::move(log));
      if (!tail.empty())
        msg += "\n" + tail;
      Error::send(msg);
    }
  }
  Program p;
  p.fd_.reset(fd);
  return p;
}

// --- Uprobe ------------------------------------------------------------------------------

Uprobe Uprobe::open(pid_t pid, const std::string& path, std::uint64_t file_offset) {
  std::ostringstream what;
  what << "perf_event_open(uprobe " << path << "+0x" << std::hex << file_offset << std::dec
       << ", pid " << pid << ")";
  int type = uprobe_pmu_type();
  if (type < 0)
    Error::send(what.str() + ": no uprobe PMU (" + kUprobeTypePath + ")");
  struct perf_event_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.type = static_cast<std::uint32_t>(type);
  attr.size = sizeof attr;
  attr.config = 0;  // bit 0 would make it a uretprobe
  attr.uprobe_path = ptr_to_u64(path.c_str());
  attr.probe_offset = file_offset;
  attr.sample_period = 1;
  attr.wakeup_events = 1;
  long fd = ::syscall(__NR_perf_event_open, &attr, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0)
    Error::send_errno(what.str());
  Uprobe u;
  u.fd_.reset(static_cast<int>(fd));
  return u;
}

// --- Link --------------------------------------------------------------------------------

Link Link::attach(const Program& prog, const Uprobe& probe, std::uint64_t cookie) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.link_create.prog_fd = static_cast<std::uint32_t>(prog.fd());
  attr.link_create.target_fd = static_cast<std::uint32_t>(probe.fd());
  attr.link_create.attach_type = BPF_PERF_EVENT;
  attr.link_create.perf_event.bpf_cookie = cookie;
  long fd = sys_bpf(BPF_LINK_CREATE, attr);
  Link l;
  if (fd >= 0) {
    l.fd_.reset(static_cast<int>(fd));
    return l;
  }
  if (errno != EINVAL)
    Error::send_errno("bpf(BPF_LINK_CREATE)");
  // Kernels before 5.15 have no perf-event links. The ioctl attaches for the life of the
  // perf event and cannot carry a cookie (get_attach_cookie returns 0); the Link keeps a
  // duplicate of the event's fd, so the program runs until both it and the Uprobe close.
  if (cookie != 0)
    Error::send("bpf(BPF_LINK_CREATE): not supported by this kernel, and a cookie needs it");
  if (::ioctl(probe.fd(), PERF_EVENT_IOC_SET_BPF, prog.fd()) < 0)
    Error::send_errno("ioctl(PERF_EVENT_IOC_SET_BPF)");
  int dup = ::fcntl(probe.fd(), F_DUPFD_CLOEXEC, 0);
  if (dup < 0)
    Error::send_errno("fcntl(F_DUPFD_CLOEXEC)");
  l.fd_.reset(dup);
  return l;
}

// --- RingBuffer --------------------------------------------------------------------------

namespace {

std::uint32_t checked_ring_size(std::size_t size) {
  if (!std::has_single_bit(size) || size % page_size() != 0 ||
      size > std::numeric_limits<std::uint32_t>::max()) {
    Error::send("bpf ring buffer: size " + std::to_string(size) +
                " is not a power of two multiple of the page size");
  }
  return static_cast<std::uint32_t>(size);
}

}  // namespace

RingBuffer::Mapping::Mapping(int fd, std::size_t len, int prot, std::size_t offset) {
  void* p = ::mmap(nullptr, len, prot, MAP_SHARED, fd, static_cast<off_t>(offset));
  if (p == MAP_FAILED)
    Error::send_errno("mmap(bpf ring buffer)");
  addr_ = p;
  len_ = len;
}

RingBuffer::Mapping::~Mapping() {
  if (addr_ != nullptr)
    ::munmap(addr_, len_);
}

// The kernel maps the data pages twice in a row after the producer page, so a record that
// wraps around the end is contiguous in our view.
RingBuffer::RingBuffer(std::size_t size)
    : map_(Map::create(Map::Type::ringbuf, 0, 0, checked_ring_size(size), "goscope_ring")),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      size_(size),
      consumer_page_(map_.fd(), page_size(), PROT_READ | PROT_WRITE, 0),
      producer_(map_.fd(), page_size() + 2 * size, PROT_READ, page_size()) {
  if (!epoll_)
    Error::send_errno("epoll_create1");
  struct epoll_event ev {};
  ev.events = EPOLLIN;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, map_.fd(), &ev) < 0)
    Error::send_errno("epoll_ctl(bpf ring buffer)");
}

RingBuffer::~RingBuffer() = default;

std::size_t RingBuffer::consume(const std::function<void(std::span<const std::byte>)>& fn) {
  auto* consumer = reinterpret_cast<std::uint64_t*>(consumer_page_.get());
  const auto* producer = reinterpret_cast<const std::uint64_t*>(producer_.get());
  const std::byte* data = producer_.get() + page_size();
  // Only we write the consumer position.
  std::uint64_t pos = __atomic_load_n(consumer, __ATOMIC_RELAXED);
  std::size_t passed = 0;
  for (;;) {
    // Acquire pairs with the kernel's release of the producer position and of each
    // record's header on commit: what we then read of the record is complete.
    std::uint64_t end = __atomic_load_n(producer, __ATOMIC_ACQUIRE);
    if (pos >= end)
      break;
    const std::byte* rec = data + (pos & (size_ - 1));
    std::uint32_t len =
        __atomic_load_n(reinterpret_cast<const std::uint32_t*>(rec), __ATOMIC_ACQUIRE);
    if ((len & BPF_RINGBUF_BUSY_BIT) != 0)
      break;
    std::uint32_t body = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
    std::uint64_t next = pos + ((std::uint64_t{body} + BPF_RINGBUF_HDR_SZ + 7) & ~7ULL);
    if ((len & BPF_RINGBUF_DISCARD_BIT) == 0) {
      try {
        fn(std::span<const std::byte>(rec + BPF_RINGBUF_HDR_SZ, body));
      } catch (...) {
        // Consumed all the same, as libbpf does: a record the callback cannot take would
        // otherwise come back forever.
        __atomic_store_n(consumer, next, __ATOMIC_RELEASE);
        throw;
      }
      ++passed;
    }
    pos = next;
    // Release: the kernel may reuse the space only after we have read the record.
    __atomic_store_n(consumer, pos, __ATOMIC_RELEASE);
  }
  return passed;
}

bool RingBuffer::wait(int timeout_ms) {
  // Records written with kRingbufNoWakeup wake no one; do not sleep on them.
  if (pending() > 0)
    return true;
  struct epoll_event ev {};
  int n = ::epoll_wait(epoll_.get(), &ev, 1, timeout_ms);
  if (n < 0) {
    // A signal ends the wait early so the caller can look at why it came.
    if (errno == EINTR)
      return pending() > 0;
    Error::send_errno("epoll_wait(bpf ring buffer)");
  }
  return n > 0;
}

std::size_t RingBuffer::pending() const {
  const auto* consumer = reinterpret_cast<const std::uint64_t*>(consumer_page_.get());
  const auto* producer = reinterpret_cast<const std::uint64_t*>(producer_.get());
  std::uint64_t c = __atomic_load_n(consumer, __ATOMIC_RELAXED);
  std::uint64_t p = __atomic_load_n(producer, __ATOMIC_ACQUIRE);
  return p > c ? static_cast<std::size_t>(p - c) : 0;
}

}  // namespace goscope::proc::bpf
