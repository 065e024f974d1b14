// ELF/DWARF loading of mutated Go binaries through the dwarf layer: the input is an edit
// script applied to the bytes of a Go fixture (flipped bytes and 64-bit edge values in the
// .debug_* sections, including their compression headers, corrupt section headers,
// truncation); the result is opened from a memfd with dwarf::ElfFile and read with
// dwarf::DebugInfo. dwarf::Error is an answer ("corrupt DWARF"); a crash, a sanitizer report
// or any other exception (std::bad_alloc, std::length_error: what issue 13 saw reach clients
// for a corrupt compressed-section size) is a finding.
#include <elf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

#include "dwarf/debug_info.hpp"
#include "dwarf/elf_file.hpp"
#include "dwarf/error.hpp"
#include "fuzz.hpp"

using namespace goscope;

namespace {

struct Section {
  std::size_t offset, size;
};

struct Fixture {
  std::vector<std::uint8_t> bytes;
  std::vector<Section> debug;  ///< the .debug_* sections
  std::size_t shoff = 0, shsize = 0;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture x;
    std::ifstream in(GOSCOPE_FIXTURE_DIR "/basic", std::ios::binary);
    x.bytes.assign(std::istreambuf_iterator<char>(in), {});
    if (x.bytes.size() < sizeof(Elf64_Ehdr))
      fuzz::finding("cannot read the basic fixture");
    Elf64_Ehdr eh;
    std::memcpy(&eh, x.bytes.data(), sizeof eh);
    x.shoff = eh.e_shoff;
    x.shsize = std::size_t{eh.e_shnum} * eh.e_shentsize;
    std::vector<Elf64_Shdr> sh(eh.e_shnum);
    std::memcpy(sh.data(), x.bytes.data() + eh.e_shoff, x.shsize);
    const char* names = reinterpret_cast<const char*>(x.bytes.data() + sh[eh.e_shstrndx].sh_offset);
    for (const auto& s : sh) {
      if (std::strncmp(names + s.sh_name, ".debug_", 7) == 0 ||
          std::strncmp(names + s.sh_name, ".zdebug_", 8) == 0)
        x.debug.push_back({s.sh_offset, s.sh_size});
    }
    if (x.debug.empty())
      fuzz::finding("the basic fixture has no .debug_* sections");
    return x;
  }();
  return f;
}

std::uint64_t le(const std::uint8_t* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = n; i-- > 0;) v = v << 8 | p[i];
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fixture();
  return 0;
}

// Records of 8 bytes: op, section, 16-bit value, 32-bit offset.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& fx = fixture();
  std::vector<std::uint8_t> b = fx.bytes;
  std::size_t keep = b.size();
  static const std::uint64_t edges[] = {0,          1,          0xff,       0x7fffffff,
                                        0x80000000, 0xffffffff, 1ull << 40, 0x7fffffffffffffff,
                                        ~0ull,      0x100000000};
  for (std::size_t r = 0; r + 8 <= size && r < 8 * 64; r += 8) {
    const auto& sec = fx.debug[data[r + 1] % fx.debug.size()];
    const auto val = static_cast<std::uint16_t>(le(data + r + 2, 2));
    const auto off = static_cast<std::size_t>(le(data + r + 4, 4));
    switch (data[r] % 4) {
      case 0:  // flip bits of one byte of a debug section
        if (sec.size > 0)
          b[sec.offset + off % sec.size] ^= static_cast<std::uint8_t>(val | 1);
        break;
      case 1: {  // an edge value over 8 bytes (a compression header's ch_size at offset 8)
        if (sec.size >= 8) {
          const std::uint64_t v = edges[val % std::size(edges)];
          std::memcpy(&b[sec.offset + off % (sec.size - 7)], &v, 8);
        }
        break;
      }
      case 2:  // truncate the file inside a debug section
        keep = std::min(keep, sec.offset + (sec.size ? off % sec.size : 0));
        break;
      default:  // a byte of the section header table
        b[fx.shoff + off % fx.shsize] = static_cast<std::uint8_t>(val);
        break;
    }
  }
  b.resize(keep);

  const int fd = ::memfd_create("fuzz-elf", MFD_CLOEXEC);
  if (fd < 0)
    fuzz::finding("memfd_create failed");
  std::size_t done = 0;
  while (done < b.size()) {
    const auto n = ::write(fd, b.data() + done, b.size() - done);
    if (n <= 0)
      fuzz::finding("write to memfd failed");
    done += static_cast<std::size_t>(n);
  }
  try {
    const auto elf = dwarf::ElfFile::open("/proc/self/fd/" + std::to_string(fd));
    for (const auto& name : elf->section_names()) elf->section_data(name);
    const auto info = dwarf::DebugInfo::load(*elf);
    std::size_t n = 0;
    for (const auto& fn : info->functions()) {
      info->lines().find(fn.low_pc);
      if (++n == 64)
        break;
    }
    info->find_function("main.main");
    info->find_type("main.Point");
  } catch (const dwarf::Error&) {
  } catch (const std::exception& e) {
    fuzz::report(std::string("not a dwarf::Error: ") + e.what());
  }
  ::close(fd);
  return 0;
}
