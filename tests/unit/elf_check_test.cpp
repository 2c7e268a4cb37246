// The bytes of a module are checked before the dynamic loader sees them: a
// complete 64-bit shared object for this machine, every PT_LOAD segment inside
// the file, no STB_GNU_UNIQUE symbol. Run on the real bytes of built modules.
#define BOOST_TEST_MODULE elf_check
#include <boost/test/unit_test.hpp>

#include <elf.h>

#include <cstring>
#include <optional>
#include <string>

#include "elf_check.hpp"
#include "test_support.hpp"

using replug::check_elf;
using replug::testing::example_module;
using replug::testing::read_file;
using replug::testing::test_module;

namespace {

std::string good_image() { return read_file(test_module("pluggable_v2")); }

Elf64_Ehdr header_of(const std::string& image) {
    Elf64_Ehdr header;
    std::memcpy(&header, image.data(), sizeof header);
    return header;
}

void set_header(std::string& image, const Elf64_Ehdr& header) { std::memcpy(image.data(), &header, sizeof header); }

Elf64_Phdr segment_of(const std::string& image, unsigned index) {
    auto header = header_of(image);
    Elf64_Phdr segment;
    std::memcpy(&segment, image.data() + header.e_phoff + index * sizeof segment, sizeof segment);
    return segment;
}

// The reason check_elf refuses IMAGE, or "" when it accepts it.
std::string refusal(std::string_view image) {
    auto why = check_elf(image);
    return why ? why->reason : "";
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_CASE(built_modules_pass) {
    for (const auto& file : {test_module("pluggable_v2"), test_module("pluggable_v3"), test_module("counter_v1"),
                             test_module("echo"), example_module("hello"), example_module("pluggable")}) {
        BOOST_TEST(refusal(read_file(file)) == "", file);
    }
}

BOOST_AUTO_TEST_CASE(empty_file) { BOOST_TEST(contains(refusal(""), "empty"), refusal("")); }

BOOST_AUTO_TEST_CASE(not_elf) {
    for (std::string image : {std::string("#!/bin/sh\necho hello\n"), std::string(4096, '\0'), std::string("\x7f" "EL"),
                              std::string("\x7f" "ELF")}) {
        BOOST_TEST(contains(refusal(image), "not an ELF file"), refusal(image));
    }
    std::string elf_tail_garbage = good_image();
    elf_tail_garbage[1] = 'X';
    BOOST_TEST(contains(refusal(elf_tail_garbage), "not an ELF file"), refusal(elf_tail_garbage));
}

BOOST_AUTO_TEST_CASE(thirty_two_bit_class) {
    std::string image = good_image();
    image[EI_CLASS] = ELFCLASS32;
    std::string why = refusal(image);
    BOOST_TEST(contains(why, "another architecture"), why);
    BOOST_TEST(contains(why, "32-bit"), why);
}

BOOST_AUTO_TEST_CASE(big_endian) {
    std::string image = good_image();
    image[EI_DATA] = ELFDATA2MSB;
    BOOST_TEST(contains(refusal(image), "another architecture"), refusal(image));
}

BOOST_AUTO_TEST_CASE(other_machine) {
    std::string image = good_image();
    auto header = header_of(image);
    std::uint16_t other = header.e_machine == EM_X86_64 ? EM_AARCH64 : EM_X86_64;
    header.e_machine = other;
    set_header(image, header);
    std::string why = refusal(image);
    BOOST_TEST(contains(why, "another architecture"), why);
    BOOST_TEST(contains(why, "e_machine " + std::to_string(other)), why);
}

BOOST_AUTO_TEST_CASE(executable_is_not_a_shared_object) {
    std::string image = good_image();
    auto header = header_of(image);
    header.e_type = ET_EXEC;
    set_header(image, header);
    std::string why = refusal(image);
    BOOST_TEST(contains(why, "not a shared object"), why);
    BOOST_TEST(contains(why, "-shared"), why);

    header.e_type = ET_REL;  // an object file, not linked
    set_header(image, header);
    BOOST_TEST(contains(refusal(image), "not a shared object"), refusal(image));
}

BOOST_AUTO_TEST_CASE(truncated_at_telling_cut_points) {
    std::string image = good_image();
    auto header = header_of(image);
    std::size_t program_headers_end = header.e_phoff + header.e_phnum * sizeof(Elf64_Phdr);
    std::size_t last_load_end = 0;
    for (unsigned i = 0; i < header.e_phnum; ++i) {
        auto segment = segment_of(image, i);
        if (segment.p_type == PT_LOAD) last_load_end = std::max<std::size_t>(last_load_end, segment.p_offset + segment.p_filesz);
    }
    BOOST_TEST_REQUIRE(last_load_end > program_headers_end);
    for (std::size_t cut : {std::size_t{EI_NIDENT}, sizeof(Elf64_Ehdr) - 1, sizeof(Elf64_Ehdr),
                            std::size_t(header.e_phoff + sizeof(Elf64_Phdr) / 2), program_headers_end - 1,
                            program_headers_end, program_headers_end + 1, image.size() / 2, last_load_end - 1,
                            image.size() - 1}) {
        std::string why = refusal(std::string_view(image).substr(0, cut));
        BOOST_TEST(contains(why, "truncated"), "cut at " << cut << " of " << image.size() << ": '" << why << "'");
    }
}

// The same without section headers (as `strip --strip-section-headers` or a
// hand-made loader image leaves it): the program headers alone must show
// that the file is short.
BOOST_AUTO_TEST_CASE(truncated_without_section_headers) {
    std::string image = good_image();
    auto header = header_of(image);
    header.e_shoff = 0;
    header.e_shnum = 0;
    header.e_shstrndx = 0;
    set_header(image, header);
    BOOST_TEST_REQUIRE(refusal(image) == "");
    std::size_t program_headers_end = header.e_phoff + header.e_phnum * sizeof(Elf64_Phdr);
    std::size_t last_load_end = 0;
    for (unsigned i = 0; i < header.e_phnum; ++i) {
        auto segment = segment_of(image, i);
        if (segment.p_type == PT_LOAD) last_load_end = std::max<std::size_t>(last_load_end, segment.p_offset + segment.p_filesz);
    }
    std::size_t accepted = 0;
    for (std::size_t cut = sizeof(Elf64_Ehdr); cut < last_load_end; ++cut) {
        std::string why = refusal(std::string_view(image).substr(0, cut));
        if (!contains(why, "truncated") && ++accepted <= 3)
            BOOST_ERROR("cut at " << cut << " of " << image.size() << ": '" << why << "'");
    }
    BOOST_TEST(accepted == 0u);
    std::string why = refusal(std::string_view(image).substr(0, last_load_end - 1));
    BOOST_TEST(contains(why, "load segment"), why);
    why = refusal(std::string_view(image).substr(0, program_headers_end - 1));
    BOOST_TEST(contains(why, "program headers"), why);
}

// A file cut anywhere must be refused, never handed to dlopen: a copy in
// progress can stop at any byte. (The section headers, the last part of a
// file g++ and ld write, are checked too.)
BOOST_AUTO_TEST_CASE(every_cut_short_copy_is_refused) {
    std::string image = good_image();
    auto header = header_of(image);
    BOOST_TEST_REQUIRE(header.e_shoff + header.e_shnum * sizeof(Elf64_Shdr) == image.size());
    std::size_t accepted = 0;
    for (std::size_t cut = 0; cut < image.size(); ++cut)
        if (!check_elf(std::string_view(image).substr(0, cut))) {
            if (++accepted <= 3) BOOST_TEST_MESSAGE("accepted a copy cut at " << cut);
        }
    BOOST_TEST(accepted == 0u);
}

BOOST_AUTO_TEST_CASE(program_headers_pointing_past_the_end) {
    std::string image = good_image();
    auto header = header_of(image);
    header.e_phoff = image.size() - 8;
    set_header(image, header);
    BOOST_TEST(contains(refusal(image), "truncated"), refusal(image));

    header.e_phoff = ~std::uint64_t{0} - 16;  // offset + size wraps around
    set_header(image, header);
    BOOST_TEST(contains(refusal(image), "truncated"), refusal(image));
}

BOOST_AUTO_TEST_CASE(load_segment_pointing_past_the_end) {
    std::string image = good_image();
    auto header = header_of(image);
    for (unsigned i = 0; i < header.e_phnum; ++i) {
        auto segment = segment_of(image, i);
        if (segment.p_type != PT_LOAD) continue;
        auto one_byte_past = segment;
        one_byte_past.p_filesz = image.size() - segment.p_offset + 1;
        auto wrapping = segment;
        wrapping.p_offset = ~std::uint64_t{0} - 8;  // offset + size wraps around
        wrapping.p_filesz = 16;
        for (const auto& bad_segment : {one_byte_past, wrapping}) {
            std::string bad = image;
            std::memcpy(bad.data() + header.e_phoff + i * sizeof bad_segment, &bad_segment, sizeof bad_segment);
            std::string why = refusal(bad);
            BOOST_TEST(contains(why, "truncated"), "segment " << i << ": " << why);
            BOOST_TEST(contains(why, "load segment " + std::to_string(i)), why);
        }
    }
}

BOOST_AUTO_TEST_CASE(gnu_unique_symbols_are_refused) {
    std::string why = refusal(read_file(test_module("gnu_unique")));
    BOOST_TEST(contains(why, "GNU-unique"), why);
    BOOST_TEST(contains(why, "-fno-gnu-unique"), why);
    BOOST_TEST(contains(why, "shared_count"), why);  // names the symbol, demangled
}

BOOST_AUTO_TEST_CASE(inline_statics_built_with_the_sdk_flags_pass) {
    // counter.cpp has the same inline-function static as gnu_unique.cpp; the
    // SDK's -fno-gnu-unique makes it a plain local symbol.
    BOOST_TEST(refusal(read_file(test_module("counter_v2"))) == "");
}
