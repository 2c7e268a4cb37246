// SHA-256 (FIPS 180-4), written here because the server's dependencies are
// libfcgi and Boost only. It names module bytes: status shows the digest of
// each loaded version, and it matches what `sha256sum FILE` prints.
#ifndef REPLUG_SHA256_HPP
#define REPLUG_SHA256_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace replug {

// An incremental digest: update() with the bytes in order, in pieces of any
// size, then hex_digest(). Not thread-safe.
class sha256 {
public:
    sha256();

    void update(std::string_view bytes);

    // The 64 lowercase hex digits of the digest of everything given to
    // update() so far. Does not change the state: more update() calls may
    // follow, and a later hex_digest() covers them too.
    std::string hex_digest() const;

private:
    void compress(const unsigned char* block);  // the portable code, one block
    // BLOCKS whole blocks at DATA, with the CPU's SHA extensions where it has them.
    void compress_blocks(const unsigned char* data, std::size_t blocks);

    std::array<std::uint32_t, 8> state_;
    std::array<unsigned char, 64> pending_{};
    std::size_t pending_size_ = 0;
    std::uint64_t total_bytes_ = 0;
};

// The lowercase hex digest of BYTES.
std::string sha256_hex(std::string_view bytes);

}  // namespace replug

#endif
