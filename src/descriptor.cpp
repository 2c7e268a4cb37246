#include "descriptor.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>
#include <cstring>
#include <optional>

namespace replug {

std::string standard_library_name(unsigned library) {
    switch (library) {
        case 1: return "libstdc++";
        case 2: return "libc++";
        default: return "an unknown C++ standard library";
    }
}

namespace {

constexpr std::size_t max_entries = 1 << 16;

std::string library_with_version(unsigned library, unsigned version) {
    auto name = standard_library_name(library);
    return library == 0 ? name : name + " " + std::to_string(version);
}

// What a handler list looks like in a reason: "serve, status" (sorted:
// the linker's order is no one's business) or "none".
std::string handler_names(const module_entry* const* begin, const module_entry* const* end) {
    std::vector<std::string> names;
    for (auto* each = begin; each != end; ++each)
        if (const module_entry* entry = *each; entry && entry->kind == entry_kind::handler && entry->name)
            names.emplace_back(entry->name);
    std::sort(names.begin(), names.end());
    std::string list;
    for (const auto& name : names) list += (list.empty() ? "" : ", ") + name;
    return list.empty() ? "none" : list;
}

}  // namespace

outcome<module_contents> read_descriptor(const module_descriptor& descriptor, std::size_t symbol_size,
                                         std::string_view symbol,
                                         const std::function<bool(std::uintptr_t)>& is_code) {
    constexpr std::size_t head = offsetof(module_descriptor, standard_library);
    if (symbol_size < head) return failure{"its replug_module symbol is not a module descriptor (too small)"};
    if (descriptor.abi_version != REPLUG_ABI_VERSION)
        return failure{"built against replug ABI " + std::to_string(descriptor.abi_version) +
                       ", this server speaks ABI " + std::to_string(REPLUG_ABI_VERSION) +
                       "; rebuild it against this server's SDK (<replug/module.hpp>)"};
    if (descriptor.size < sizeof(module_descriptor) || symbol_size < sizeof(module_descriptor))
        return failure{"its module descriptor is " + std::to_string(descriptor.size) + " bytes, ABI " +
                       std::to_string(REPLUG_ABI_VERSION) + " needs " + std::to_string(sizeof(module_descriptor)) +
                       "; rebuild it against this server's SDK"};
    if (descriptor.standard_library != server_standard_library)
        return failure{"built with " +
                       library_with_version(descriptor.standard_library, descriptor.standard_library_version) +
                       ", this server with " + standard_library_name(server_standard_library) +
                       ": their std::string_view differ, and the module would misread every string; rebuild it "
                       "with " + standard_library_name(server_standard_library) +
                       (server_standard_library == 1 ? " (g++, or clang++ without -stdlib=libc++)" : "")};

    const module_entry* const* begin = descriptor.entries_begin;
    const module_entry* const* end = descriptor.entries_end;
    if ((begin == nullptr) != (end == nullptr) || end < begin || end - begin > std::ptrdiff_t{max_entries})
        return failure{"its module descriptor's entries are not an array"};

    module_contents contents;
    bool has_version = false;
    for (auto* each = begin; each != end; ++each) {
        const module_entry* entry = *each;
        if (!entry) return failure{"its module descriptor has an empty entry"};
        auto twice = [&](const char* what) {
            return failure{std::string("it has two ") + what + " (one per module)"};
        };
        auto code = [&](std::uintptr_t function, const char* what) -> std::optional<failure> {
            if (function && is_code(function)) return std::nullopt;
            return failure{std::string("its ") + what + " entry does not point at the module's code"};
        };
        switch (entry->kind) {
            case entry_kind::handler: {
                if (!entry->name) return failure{"a handler entry has no name"};
                if (auto why = code(reinterpret_cast<std::uintptr_t>(entry->function.handler), "handler")) return *why;
                if (entry->name != symbol) break;
                if (contents.handler) return failure{"it has two handlers named '" + std::string(symbol) + "'"};
                contents.handler = entry->function.handler;
                break;
            }
            case entry_kind::version:
                if (has_version) return twice("REPLUG_VERSION");
                has_version = true;
                if (entry->name) contents.version = std::string(entry->name, ::strnlen(entry->name, 256));
                break;
            case entry_kind::on_load:
                if (contents.on_load) return twice("REPLUG_ON_LOAD");
                if (auto why = code(reinterpret_cast<std::uintptr_t>(entry->function.on_load), "load hook")) return *why;
                contents.on_load = entry->function.on_load;
                break;
            case entry_kind::on_unload:
                if (contents.on_unload) return twice("REPLUG_ON_UNLOAD");
                if (auto why = code(reinterpret_cast<std::uintptr_t>(entry->function.on_unload), "unload hook")) return *why;
                contents.on_unload = entry->function.on_unload;
                break;
            case entry_kind::export_state:
                if (contents.export_state) return twice("REPLUG_EXPORT_STATE");
                if (auto why = code(reinterpret_cast<std::uintptr_t>(entry->function.export_state), "state export"))
                    return *why;
                contents.export_state = entry->function.export_state;
                break;
            case entry_kind::import_state:
                if (contents.import_state) return twice("REPLUG_IMPORT_STATE");
                if (auto why = code(reinterpret_cast<std::uintptr_t>(entry->function.import_state), "state import"))
                    return *why;
                contents.import_state = entry->function.import_state;
                break;
            default:
                return failure{"its descriptor has an entry of unknown kind " +
                               std::to_string(static_cast<unsigned>(entry->kind)) +
                               " (built against a newer SDK with the same ABI?)"};
        }
    }
    if (!contents.handler)
        return failure{"no handler '" + std::string(symbol) + "' (its handlers: " + handler_names(begin, end) +
                       "; export one with REPLUG_HANDLER(" + std::string(symbol) + "))"};
    return contents;
}

}  // namespace replug
