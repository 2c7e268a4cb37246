#include "elf_check.hpp"

#include <cxxabi.h>
#include <elf.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

namespace replug {

namespace {

#if defined(__x86_64__)
constexpr unsigned host_machine = EM_X86_64;
constexpr const char* host_machine_name = "x86_64";
#elif defined(__aarch64__)
constexpr unsigned host_machine = EM_AARCH64;
constexpr const char* host_machine_name = "aarch64";
#else
#error "replug knows the ELF machine of x86_64 and aarch64 only"
#endif

// True when [offset, offset + length) lies inside an image of SIZE bytes.
bool inside(std::uint64_t offset, std::uint64_t length, std::size_t size) {
    return offset <= size && length <= size - offset;
}

template <typename T>
T read_at(std::string_view image, std::uint64_t offset) {
    T value;
    std::memcpy(&value, image.data() + offset, sizeof value);
    return value;
}

std::string demangle(const char* name) {
    int status = 0;
    std::unique_ptr<char, decltype(&std::free)> readable(
        abi::__cxa_demangle(name, nullptr, nullptr, &status), &std::free);
    return status == 0 && readable ? readable.get() : name;
}

std::optional<failure> check_unique_symbols(std::string_view image, const Elf64_Ehdr& header) {
    if (header.e_shoff == 0 || header.e_shnum == 0) return std::nullopt;  // stripped of sections
    if (header.e_shentsize != sizeof(Elf64_Shdr) ||
        !inside(header.e_shoff, std::uint64_t{header.e_shnum} * sizeof(Elf64_Shdr), image.size()))
        return failure{"truncated or corrupt ELF: section headers lie outside the file"};
    for (unsigned i = 0; i < header.e_shnum; ++i) {
        auto symbols = read_at<Elf64_Shdr>(image, header.e_shoff + i * sizeof(Elf64_Shdr));
        if (symbols.sh_type != SHT_DYNSYM) continue;
        if (symbols.sh_link >= header.e_shnum || !inside(symbols.sh_offset, symbols.sh_size, image.size()))
            return failure{"corrupt ELF: dynamic symbol table lies outside the file"};
        auto names = read_at<Elf64_Shdr>(image, header.e_shoff + symbols.sh_link * sizeof(Elf64_Shdr));
        if (!inside(names.sh_offset, names.sh_size, image.size()))
            return failure{"corrupt ELF: dynamic string table lies outside the file"};
        std::string found;
        int count = 0;
        for (std::uint64_t at = 0; at + sizeof(Elf64_Sym) <= symbols.sh_size; at += sizeof(Elf64_Sym)) {
            auto symbol = read_at<Elf64_Sym>(image, symbols.sh_offset + at);
            if (ELF64_ST_BIND(symbol.st_info) != STB_GNU_UNIQUE) continue;
            if (++count > 3) continue;
            std::string name = "?";
            if (symbol.st_name < names.sh_size) {
                const char* start = image.data() + names.sh_offset + symbol.st_name;
                std::size_t length = strnlen(start, names.sh_size - symbol.st_name);
                if (length < names.sh_size - symbol.st_name) name = demangle(std::string(start, length).c_str());
            }
            found += found.empty() ? "" : ", ";
            found += name;
        }
        if (count > 0)
            return failure{"module has " + std::to_string(count) + " GNU-unique symbol(s) (" + found +
                           (count > 3 ? ", ..." : "") +
                           "): it could never be unloaded and a new version would share its statics; "
                           "rebuild with -fno-gnu-unique (pkg-config --cflags replug)"};
    }
    return std::nullopt;
}

}  // namespace

std::optional<failure> check_elf(std::string_view image) {
    if (image.empty()) return failure{"file is empty"};
    if (image.size() < EI_NIDENT || std::memcmp(image.data(), ELFMAG, SELFMAG) != 0)
        return failure{"not an ELF file"};
    if (image[EI_CLASS] != ELFCLASS64 || image[EI_DATA] != ELFDATA2LSB)
        return failure{std::string("ELF for another architecture (") +
                       (image[EI_CLASS] == ELFCLASS32 ? "32-bit" : "not 64-bit little-endian") +
                       "; this server is " + host_machine_name + ")"};
    if (image.size() < sizeof(Elf64_Ehdr))
        return failure{"truncated ELF: " + std::to_string(image.size()) + " bytes, shorter than its header"};
    auto header = read_at<Elf64_Ehdr>(image, 0);
    if (header.e_machine != host_machine)
        return failure{"ELF for another architecture (e_machine " + std::to_string(header.e_machine) +
                       "; this server is " + host_machine_name + ")"};
    if (header.e_type != ET_DYN)
        return failure{"not a shared object (ELF type " + std::to_string(header.e_type) +
                       "); build the module with -shared -fPIC"};
    if (header.e_phentsize != sizeof(Elf64_Phdr) ||
        !inside(header.e_phoff, std::uint64_t{header.e_phnum} * sizeof(Elf64_Phdr), image.size()))
        return failure{"truncated ELF: program headers lie past the end of the file (" +
                       std::to_string(image.size()) + " bytes; is a copy still in progress?)"};
    for (unsigned i = 0; i < header.e_phnum; ++i) {
        auto segment = read_at<Elf64_Phdr>(image, header.e_phoff + i * sizeof(Elf64_Phdr));
        if (segment.p_type == PT_LOAD && !inside(segment.p_offset, segment.p_filesz, image.size()))
            return failure{"truncated ELF: load segment " + std::to_string(i) + " ends at byte " +
                           std::to_string(segment.p_offset + segment.p_filesz) + " but the file has " +
                           std::to_string(image.size()) + " (is a copy still in progress?)"};
    }
    return check_unique_symbols(image, header);
}

bool executable_offset(std::string_view image, std::uint64_t offset) {
    auto header = read_at<Elf64_Ehdr>(image, 0);
    for (unsigned i = 0; i < header.e_phnum; ++i) {
        auto segment = read_at<Elf64_Phdr>(image, header.e_phoff + i * sizeof(Elf64_Phdr));
        if (segment.p_type == PT_LOAD && (segment.p_flags & PF_X) && offset >= segment.p_vaddr &&
            offset - segment.p_vaddr < segment.p_memsz)
            return true;
    }
    return false;
}

}  // namespace replug
