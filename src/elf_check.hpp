// Checks the bytes of a module before the dynamic loader sees them. The
// loader maps what the program headers say; a file cut short (a copy still in
// progress) makes it touch pages past the end of the file, and the process
// dies with SIGBUS inside dlopen. Checked here instead, as a refusal.
#ifndef REPLUG_ELF_CHECK_HPP
#define REPLUG_ELF_CHECK_HPP

#include <cstdint>
#include <optional>
#include <string_view>

#include "outcome.hpp"

namespace replug {

// No failure when IMAGE is a complete ELF shared object for this machine,
// every PT_LOAD segment lies inside it, and no dynamic symbol is
// STB_GNU_UNIQUE (such a module can never be unloaded, and the next version
// would bind to its statics).
std::optional<failure> check_elf(std::string_view image);

// True when OFFSET (an address minus the module's load base) lies in an
// executable PT_LOAD segment of IMAGE. REQUIRES: check_elf(image) passed.
bool executable_offset(std::string_view image, std::uint64_t offset);

}  // namespace replug

#endif
