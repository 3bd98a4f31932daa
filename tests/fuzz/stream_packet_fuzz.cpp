// libFuzzer target: arbitrary datagrams into secure streams. The first input byte picks
// the victim; the rest is a list of datagrams, each prefixed by a 2-byte length.
//   0: a fresh responder (what the socket owner makes on an INIT with an unknown id)
//   1: both ends of an established stream, raw datagrams
//   2: the same, each datagram XORed onto a captured genuine packet (near-valid input)
//   3: a reliable_channel fed the datagrams as decrypted plaintext (frames, acks, data)
// Every output must stay a well-formed stream datagram of at most 1200 bytes.
#include "overlay/stream/secure_stream.hpp"
#include "overlay/stream/wire.hpp"

#include <cstdlib>
#include <vector>

using namespace ovl;
using namespace ovl::overlay;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t fuzz_cid = 0x0102030405060708;

std::vector<bytes> split(const std::uint8_t* data, std::size_t size) {
    std::vector<bytes> out;
    std::size_t i = 0;
    while (i + 2 <= size && out.size() < 64) {
        const std::size_t len = std::min<std::size_t>((std::size_t{data[i]} << 8) | data[i + 1], size - i - 2);
        out.emplace_back(data + i + 2, data + i + 2 + len);
        i += 2 + len;
    }
    return out;
}

void check(const bytes& d) {
    if (d.empty() || d.size() > stream::max_datagram_size || d[0] < 0x10 || d[0] > 0x1F) std::abort();
}

const identity& id(int which) {
    static const identity a = identity::from_seed({1}), b = identity::from_seed({2});
    return which == 0 ? a : b;
}

std::unique_ptr<secure_stream> make(secure_stream::role r, timestamp now) {
    const bool init = r == secure_stream::role::initiator;
    return std::make_unique<secure_stream>(r, id(init ? 0 : 1), init ? std::optional(id(1).public_key_bytes()) : std::nullopt,
                                           fuzz_cid, random_source(init ? 1 : 2), null_logger(), now);
}

// Moves packets both ways until quiet; returns what was sent, for mode 2.
std::vector<bytes> pump(secure_stream& a, secure_stream& b, timestamp now) {
    std::vector<bytes> seen;
    for (int round = 0; round < 8; ++round) {
        bool any = false;
        for (auto [from, to] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
            while (auto d = from->poll_packet(now)) {
                check(*d);
                to->on_packet(now, *d);
                seen.push_back(std::move(*d));
                any = true;
            }
        }
        if (!any) break;
    }
    return seen;
}

void fuzz_responder(const std::vector<bytes>& datagrams) {
    timestamp now{};
    auto r = make(secure_stream::role::responder, now);
    for (const auto& d : datagrams) {
        r->on_packet(now, d);
        while (auto out = r->poll_packet(now)) check(*out);
        now += 100ms;
        r->on_timeout(now);
    }
}

void fuzz_established(const std::vector<bytes>& datagrams, bool near_valid) {
    timestamp now{};
    auto a = make(secure_stream::role::initiator, now);
    auto b = make(secure_stream::role::responder, now);
    const bytes hello(3000, 0x41);
    a->write(hello);
    b->write(hello);
    auto genuine = pump(*a, *b, now);
    if (genuine.empty()) std::abort();
    for (std::size_t i = 0; i < datagrams.size(); ++i) {
        bytes d = datagrams[i];
        if (near_valid) {
            const auto& g = genuine[i % genuine.size()];
            d.resize(std::max(d.size(), g.size()), 0);
            for (std::size_t k = 0; k < g.size(); ++k) d[k] ^= g[k];
        }
        (i % 2 ? a : b)->on_packet(now, d);
        now += 10ms;
        a->on_timeout(now);
        b->on_timeout(now);
        pump(*a, *b, now);
        a->read();
        b->read();
    }
}

void fuzz_channel(const std::vector<bytes>& datagrams) {
    timestamp now{};
    stream::reliable_channel ch(stream::channel_config{});
    const bytes block(100000, 0x42);
    ch.write(block);
    std::uint64_t pn = 0;
    for (const auto& d : datagrams) {
        while (auto out = ch.poll(now))
            if (out->plaintext.size() > stream::max_plaintext_size) std::abort();
        if (auto frames = stream::decode_frames(d)) {
            // The first byte lets the fuzzer repeat and reorder packet numbers.
            pn = d.empty() || d[0] < 0x80 ? pn + 1 : pn - std::min<std::uint64_t>(pn, d[0] & 0x7f);
            if (!ch.on_packet(now, pn, *frames)) return;
        }
        now += 5ms;
        ch.on_timeout(now);
        ch.read();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const auto datagrams = split(data + 1, size - 1);
    switch (data[0] % 4) {
    case 0: fuzz_responder(datagrams); break;
    case 1: fuzz_established(datagrams, false); break;
    case 2: fuzz_established(datagrams, true); break;
    default: fuzz_channel(datagrams); break;
    }
    return 0;
}
