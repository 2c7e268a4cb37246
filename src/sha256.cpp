#include "sha256.hpp"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace replug {

namespace {

// FIPS 180-4, 4.2.2: the first 32 bits of the fractional parts of the cube
// roots of the first 64 primes.
constexpr std::array<std::uint32_t, 64> round_constants = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

// 5.3.3: the first 32 bits of the fractional parts of the square roots of
// the first 8 primes.
constexpr std::array<std::uint32_t, 8> initial_state = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

std::uint32_t big_endian_word(const unsigned char* bytes) {
    return std::uint32_t{bytes[0]} << 24 | std::uint32_t{bytes[1]} << 16 | std::uint32_t{bytes[2]} << 8 |
           std::uint32_t{bytes[3]};
}

#if defined(__x86_64__)
// The SHA extensions (SHA-NI) with SSSE3 and SSE4.1: about ten times the
// portable code's speed, which is most of a reload's time for a 100 KB
// module. REPLUG_SHA256_PORTABLE=1 turns it off (the tests compare both).
bool cpu_has_sha_extensions() {
    if (const char* portable = std::getenv("REPLUG_SHA256_PORTABLE"); portable && *portable == '1') return false;
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1)) return false;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    return (b & bit_SHA) != 0;
}

// BLOCKS 64-byte blocks at DATA into STATE, four rounds per step: the
// message schedule with sha256msg1/msg2, the rounds with sha256rnds2 on the
// state as ABEF and CDGH.
__attribute__((target("sha,ssse3,sse4.1"))) void compress_with_sha_extensions(std::uint32_t* state,
                                                                              const unsigned char* data,
                                                                              std::size_t blocks) {
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state));
    __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4));
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
    __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
    for (; blocks > 0; --blocks, data += 64) {
        __m128i abef_before = abef, cdgh_before = cdgh;
        __m128i words[4];  // the message schedule, four words a step, as a ring
        for (int step = 0; step < 16; ++step) {
            __m128i& w = words[step % 4];
            if (step < 4) {
                w = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 16 * step)), byte_swap);
            } else {
                const __m128i& previous = words[(step + 3) % 4];  // W[t-4..t-1]
                __m128i sum = _mm_sha256msg1_epu32(w, words[(step + 1) % 4]);
                sum = _mm_add_epi32(sum, _mm_alignr_epi8(previous, words[(step + 2) % 4], 4));
                w = _mm_sha256msg2_epu32(sum, previous);
            }
            __m128i with_constants = _mm_add_epi32(
                w, _mm_loadu_si128(reinterpret_cast<const __m128i*>(round_constants.data() + 4 * step)));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, with_constants);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(with_constants, 0x0E));
        }
        abef = _mm_add_epi32(abef, abef_before);
        cdgh = _mm_add_epi32(cdgh, cdgh_before);
    }
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(state), _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), _mm_alignr_epi8(dchg, feba, 8));
}
#endif

}  // namespace

sha256::sha256() : state_(initial_state) {}

void sha256::compress_blocks(const unsigned char* data, std::size_t blocks) {
#if defined(__x86_64__)
    static const bool extensions = cpu_has_sha_extensions();
    if (extensions) return compress_with_sha_extensions(state_.data(), data, blocks);
#endif
    for (; blocks > 0; --blocks, data += 64) compress(data);
}

// 6.2.2: one 512-bit block into the state.
void sha256::compress(const unsigned char* block) {
    std::array<std::uint32_t, 64> schedule;
    for (std::size_t t = 0; t < 16; ++t) schedule[t] = big_endian_word(block + 4 * t);
    for (std::size_t t = 16; t < 64; ++t) {
        std::uint32_t w15 = schedule[t - 15], w2 = schedule[t - 2];
        std::uint32_t sigma0 = std::rotr(w15, 7) ^ std::rotr(w15, 18) ^ (w15 >> 3);
        std::uint32_t sigma1 = std::rotr(w2, 17) ^ std::rotr(w2, 19) ^ (w2 >> 10);
        schedule[t] = sigma1 + schedule[t - 7] + sigma0 + schedule[t - 16];
    }
    auto [a, b, c, d, e, f, g, h] = state_;
    for (std::size_t t = 0; t < 64; ++t) {
        std::uint32_t big_sigma1 = std::rotr(e, 6) ^ std::rotr(e, 11) ^ std::rotr(e, 25);
        std::uint32_t choose = (e & f) ^ (~e & g);
        std::uint32_t t1 = h + big_sigma1 + choose + round_constants[t] + schedule[t];
        std::uint32_t big_sigma0 = std::rotr(a, 2) ^ std::rotr(a, 13) ^ std::rotr(a, 22);
        std::uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
        std::uint32_t t2 = big_sigma0 + majority;
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    state_[0] += a;
    state_[1] += b;
    state_[2] += c;
    state_[3] += d;
    state_[4] += e;
    state_[5] += f;
    state_[6] += g;
    state_[7] += h;
}

void sha256::update(std::string_view bytes) {
    const auto* next = reinterpret_cast<const unsigned char*>(bytes.data());
    std::size_t left = bytes.size();
    total_bytes_ += left;
    if (pending_size_ > 0) {
        std::size_t taken = std::min(left, pending_.size() - pending_size_);
        std::memcpy(pending_.data() + pending_size_, next, taken);
        pending_size_ += taken;
        next += taken;
        left -= taken;
        if (pending_size_ < pending_.size()) return;
        compress_blocks(pending_.data(), 1);
        pending_size_ = 0;
    }
    compress_blocks(next, left / 64);
    next += left / 64 * 64;
    left %= 64;
    std::memcpy(pending_.data(), next, left);
    pending_size_ = left;
}

std::string sha256::hex_digest() const {
    // 5.1.1: a 1 bit, zeros up to 56 bytes into the last block, then the
    // length in bits as a 64-bit big-endian number. Padded on a copy, so
    // this object can go on.
    sha256 last = *this;
    std::uint64_t bits = total_bytes_ * 8;
    unsigned char padding[72] = {0x80};
    std::size_t zeros = (pending_size_ < 56 ? 56 : 120) - pending_size_;
    for (std::size_t i = 0; i < 8; ++i) padding[zeros + i] = static_cast<unsigned char>(bits >> (56 - 8 * i));
    last.update(std::string_view(reinterpret_cast<const char*>(padding), zeros + 8));

    static constexpr char digits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(64);
    for (std::uint32_t word : last.state_)
        for (int shift = 28; shift >= 0; shift -= 4) hex += digits[(word >> shift) & 0xf];
    return hex;
}

std::string sha256_hex(std::string_view bytes) {
    sha256 digest;
    digest.update(bytes);
    return digest.hex_digest();
}

}  // namespace replug
