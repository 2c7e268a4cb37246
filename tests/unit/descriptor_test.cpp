// A module's descriptor -> its handler, version and hooks, or a refusal that
// says how to rebuild or what to add. Built here in memory; the loader tests
// read real ones from built modules.
#define BOOST_TEST_MODULE descriptor
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "descriptor.hpp"

using namespace replug;

namespace {

void serve(request&, response&) {}
void other(request&, response&) {}
bool on_load() { return true; }
void on_unload() {}

std::uintptr_t address(handler_function* function) { return reinterpret_cast<std::uintptr_t>(function); }

// Every function of this file counts as the module's code; nothing else does.
bool is_code(std::uintptr_t where) {
    return where == address(&serve) || where == address(&other) ||
           where == reinterpret_cast<std::uintptr_t>(&on_load) || where == reinterpret_cast<std::uintptr_t>(&on_unload);
}

struct fixture {
    std::vector<module_entry> entries{
        {entry_kind::handler, "serve", {.handler = &serve}},
        {entry_kind::handler, "other", {.handler = &other}},
        {entry_kind::version, "7", {.handler = nullptr}},
        {entry_kind::on_load, "on_load", {.on_load = &on_load}},
        {entry_kind::on_unload, "on_unload", {.on_unload = &on_unload}},
    };
    module_descriptor descriptor{REPLUG_ABI_VERSION, sizeof(module_descriptor), REPLUG_STANDARD_LIBRARY_,
                                 REPLUG_STANDARD_LIBRARY_VERSION_, nullptr, nullptr};

    std::vector<const module_entry*> pointers;

    outcome<module_contents> read(std::string_view symbol = "serve", std::size_t size = sizeof(module_descriptor)) {
        pointers.clear();
        for (const auto& entry : entries) pointers.push_back(&entry);
        descriptor.entries_begin = pointers.data();
        descriptor.entries_end = pointers.data() + pointers.size();
        return read_descriptor(descriptor, size, symbol, is_code);
    }
    std::string refused(std::string_view symbol = "serve", std::size_t size = sizeof(module_descriptor)) {
        auto result = read(symbol, size);
        BOOST_TEST_REQUIRE(!result.ok(), "accepted");
        return result.reason();
    }
};

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_good_descriptor_gives_the_named_handler_version_and_hooks, fixture) {
    auto contents = read("other");
    BOOST_TEST_REQUIRE(contents.ok());
    BOOST_TEST((contents->handler == &other));
    BOOST_TEST(contents->version == "7");
    BOOST_TEST((contents->on_load == &on_load));
    BOOST_TEST((contents->on_unload == &on_unload));
    BOOST_TEST(!contents->export_state);
}

BOOST_FIXTURE_TEST_CASE(the_header_describes_this_library, fixture) {
    BOOST_TEST(server_standard_library == 1u);  // the server is built with g++
    BOOST_TEST(standard_library_name(server_standard_library) == "libstdc++");
}

BOOST_FIXTURE_TEST_CASE(another_abi_is_refused_with_how_to_rebuild, fixture) {
    descriptor.abi_version = 3;
    auto why = refused();
    BOOST_TEST(contains(why, "built against replug ABI 3, this server speaks ABI 2; rebuild it"), why);
}

BOOST_FIXTURE_TEST_CASE(a_symbol_too_small_for_a_descriptor_is_refused, fixture) {
    BOOST_TEST(contains(refused("serve", 4), "not a module descriptor"));
    BOOST_TEST(contains(refused("serve", sizeof(module_descriptor) - 8), "needs " + std::to_string(sizeof(module_descriptor))));
    descriptor.size = 16;
    BOOST_TEST(contains(refused(), "its module descriptor is 16 bytes"));
}

BOOST_FIXTURE_TEST_CASE(libcxx_is_refused_naming_the_library, fixture) {
    descriptor.standard_library = 2;
    descriptor.standard_library_version = 14000;
    auto why = refused();
    BOOST_TEST(contains(why, "built with libc++ 14000, this server with libstdc++"), why);
    BOOST_TEST(contains(why, "std::string_view"), why);
    BOOST_TEST(contains(why, "without -stdlib=libc++"), why);
    descriptor.standard_library = 0;
    BOOST_TEST(contains(refused(), "built with an unknown C++ standard library"));
}

BOOST_FIXTURE_TEST_CASE(a_missing_handler_lists_the_ones_there_are, fixture) {
    auto why = refused("nonexistent");
    BOOST_TEST(contains(why, "no handler 'nonexistent' (its handlers: other, serve; export one with "
                             "REPLUG_HANDLER(nonexistent))"), why);
    entries.clear();
    BOOST_TEST(contains(refused(), "its handlers: none"));
    descriptor.entries_begin = descriptor.entries_end = nullptr;
    BOOST_TEST(contains(read_descriptor(descriptor, sizeof descriptor, "serve", is_code).reason(), "no handler 'serve'"));
}

BOOST_FIXTURE_TEST_CASE(two_of_one_thing_are_refused, fixture) {
    entries.push_back({entry_kind::version, "8", {.handler = nullptr}});
    BOOST_TEST(contains(refused(), "two REPLUG_VERSION"));
    entries.pop_back();
    entries.push_back({entry_kind::on_load, "on_load", {.on_load = &on_load}});
    BOOST_TEST(contains(refused(), "two REPLUG_ON_LOAD"));
    entries.pop_back();
    entries.push_back({entry_kind::handler, "serve", {.handler = &other}});
    BOOST_TEST(contains(refused(), "two handlers named 'serve'"));
}

BOOST_FIXTURE_TEST_CASE(functions_outside_the_module_and_unknown_kinds_are_refused, fixture) {
    entries[1].function.handler = reinterpret_cast<handler_function*>(std::uintptr_t{0x1000});
    BOOST_TEST(contains(refused(), "its handler entry does not point at the module's code"));
    entries[1].function.handler = nullptr;
    BOOST_TEST(contains(refused(), "does not point at the module's code"));
    entries[1] = {static_cast<entry_kind>(99), "x", {.handler = nullptr}};
    BOOST_TEST(contains(refused(), "unknown kind 99"));
    read();
    pointers[1] = nullptr;
    BOOST_TEST(contains(read_descriptor(descriptor, sizeof descriptor, "serve", is_code).reason(), "an empty entry"));
}

BOOST_FIXTURE_TEST_CASE(entries_that_are_not_an_array_are_refused, fixture) {
    read();
    descriptor.entries_begin = pointers.data() + 1;
    descriptor.entries_end = pointers.data();
    BOOST_TEST(contains(read_descriptor(descriptor, sizeof descriptor, "serve", is_code).reason(), "not an array"));
    descriptor.entries_begin = nullptr;
    BOOST_TEST(contains(read_descriptor(descriptor, sizeof descriptor, "serve", is_code).reason(), "not an array"));
}
