// SHA-256 as FIPS 180-4 defines it: the NIST example vectors, every length
// around the padding boundaries (where the length field moves to a second
// block), the same digest however the bytes are split, and the digest
// sha256sum prints for a real module file.
#define BOOST_TEST_MODULE sha256
#include <boost/test/unit_test.hpp>

#include <string>

#include "sha256.hpp"
#include "test_support.hpp"

using replug::sha256;
using replug::sha256_hex;
using replug::testing::read_file;
using replug::testing::temp_dir;
using replug::testing::test_module;

BOOST_AUTO_TEST_CASE(nist_vectors) {
    BOOST_TEST(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    BOOST_TEST(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    // 448 bits: the length field no longer fits beside the padding's 1 bit.
    BOOST_TEST(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
               "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    BOOST_TEST(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
                          "mnopqrstnopqrstu") == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    BOOST_TEST(sha256_hex(std::string(1'000'000, 'a')) ==
               "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// 55 bytes: padding and length fit in one block; 56: they need a second one;
// 63, 64, 65: the first block full, or just over. 119 and 120: the same
// boundary one block later.
BOOST_AUTO_TEST_CASE(padding_boundaries) {
    const std::pair<std::size_t, const char*> expected[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {57, "f13b2d724659eb3bf47f2dd6af1accc87b81f09f59f2b75e5c0bed6589dfe8c6"},
        {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
        {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
        {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
        {128, "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e"},
    };
    for (const auto& [size, digest] : expected) BOOST_TEST(sha256_hex(std::string(size, 'a')) == digest, size);
}

// Every length from 0 to 130 bytes, against the sha256sum command.
BOOST_AUTO_TEST_CASE(every_short_length_matches_sha256sum) {
    temp_dir directory;
    auto file = directory / "bytes";
    std::string bytes;
    for (std::size_t size = 0; size <= 130; ++size) {
        replug::testing::overwrite_in_place(file, bytes);
        BOOST_TEST(sha256_hex(bytes) == replug::testing::sha256sum(file), size << " bytes");
        bytes += static_cast<char>(size * 37 + 11);
    }
}

BOOST_AUTO_TEST_CASE(pieces_of_any_size_give_the_same_digest) {
    std::string message;
    for (int i = 0; i < 200; ++i) message += static_cast<char>(i * 7);
    const std::string whole = sha256_hex(message);
    for (std::size_t cut = 0; cut <= message.size(); ++cut) {
        sha256 digest;
        digest.update(std::string_view(message).substr(0, cut));
        digest.update(std::string_view(message).substr(cut));
        BOOST_TEST(digest.hex_digest() == whole, "cut at " << cut);
    }
    sha256 bytewise;
    for (char c : message) bytewise.update(std::string_view(&c, 1));
    BOOST_TEST(bytewise.hex_digest() == whole);
}

BOOST_AUTO_TEST_CASE(a_digest_midway_lets_the_digest_go_on) {
    sha256 digest;
    digest.update("ab");
    BOOST_TEST(digest.hex_digest() == sha256_hex("ab"));
    digest.update("c");
    BOOST_TEST(digest.hex_digest() == sha256_hex("abc"));
}

BOOST_AUTO_TEST_CASE(a_built_module_matches_sha256sum) {
    auto file = test_module("pluggable_v2");
    BOOST_TEST(sha256_hex(read_file(file)) == replug::testing::sha256sum(file));
}
