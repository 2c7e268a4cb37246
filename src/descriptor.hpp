// A module's descriptor (replug_module, see <replug/module.hpp>) -> what the
// server calls: the route's handler, the version text and the hooks. Pure:
// the loader finds the symbol and says where the module's code lies; this
// decides whether the module may be served, and says why not.
#ifndef REPLUG_DESCRIPTOR_HPP
#define REPLUG_DESCRIPTOR_HPP

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "outcome.hpp"
#include "replug/module.hpp"

namespace replug {

// "libstdc++", "libc++" or "an unknown C++ standard library".
std::string standard_library_name(unsigned library);
// This server's own library, as a module's descriptor would name it.
inline constexpr unsigned server_standard_library = REPLUG_STANDARD_LIBRARY_;

struct module_contents {
    handler_function* handler = nullptr;
    std::string version;  // "" when the module has no REPLUG_VERSION
    load_hook* on_load = nullptr;
    unload_hook* on_unload = nullptr;
    state_export* export_state = nullptr;
    state_import* import_state = nullptr;
};

// Reads DESCRIPTOR, an object of SYMBOL_SIZE bytes (its ELF symbol's size),
// for the handler named SYMBOL. IS_CODE says whether an address lies in the
// module's executable segments. Refused, with a reason that says how to
// rebuild or what to add: a descriptor too small to hold its own fields,
// another ABI version, another standard library than the server's, entries
// that are not an array, an entry of an unknown kind or pointing outside the
// module's code, two versions or two of one hook or handler, no handler
// SYMBOL (the reason lists the handlers there are).
outcome<module_contents> read_descriptor(const module_descriptor& descriptor, std::size_t symbol_size,
                                         std::string_view symbol,
                                         const std::function<bool(std::uintptr_t)>& is_code);

}  // namespace replug

#endif
