// Packets from an attacker on the path: tampered, replayed, truncated, garbage. None may
// crash a stream, be accepted, or stop an honest transfer.
#include "stream_harness.hpp"

#include "overlay/stream/handshake.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::test;
using namespace ovl::overlay::stream;
using state = overlay::secure_stream::state;

namespace {

bytes flipped(const bytes& d, std::size_t bit) {
    auto out = d;
    out[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    return out;
}

struct handshake_packets {
    random_source rng{30};
    overlay::identity a = overlay::identity::generate(rng), b = overlay::identity::generate(rng);
};

} // namespace

TEST_CASE("a flipped bit anywhere in a RESPONSE or FINISH is refused", "[hostile]") {
    handshake_packets ids;
    initiator_handshake init(ids.a, ids.b.public_key_bytes(), 77, ids.rng);
    responder_handshake resp(ids.b, 77, ids.rng);
    const auto response = *resp.on_init(init.init_packet());
    for (std::size_t bit = 0; bit < response.size() * 8; ++bit) {
        INFO("RESPONSE bit " << bit);
        REQUIRE(std::holds_alternative<handshake_ignored>(init.on_response(flipped(response, bit))));
    }
    auto result = init.on_response(response);
    REQUIRE(std::holds_alternative<initiator_handshake::completed>(result));
    const auto finish = std::get<initiator_handshake::completed>(result).finish_packet;
    for (std::size_t bit = 0; bit < finish.size() * 8; ++bit) {
        INFO("FINISH bit " << bit);
        REQUIRE_FALSE(resp.on_finish(flipped(finish, bit)));
    }
    const auto done = resp.on_finish(finish);
    REQUIRE(done);
    CHECK(done->peer == ids.a.public_key_bytes());
    CHECK(done->keys.send == std::get<initiator_handshake::completed>(result).done.keys.receive);
    CHECK(done->keys.receive == std::get<initiator_handshake::completed>(result).done.keys.send);
}

TEST_CASE("no tampered INIT leads to a session the initiator accepts", "[hostile]") {
    handshake_packets ids;
    initiator_handshake init(ids.a, ids.b.public_key_bytes(), 78, ids.rng);
    const auto& original = init.init_packet();
    for (std::size_t bit = 0; bit < original.size() * 8; ++bit) {
        INFO("INIT bit " << bit);
        responder_handshake resp(ids.b, 78, ids.rng);
        // Either refused, or answered for an ephemeral key the initiator does not hold.
        if (auto response = resp.on_init(flipped(original, bit)))
            REQUIRE(std::holds_alternative<handshake_ignored>(init.on_response(*response)));
    }
}

TEST_CASE("a flipped bit anywhere in a data packet is refused, and so is a replay", "[hostile]") {
    aead_key key{};
    key[0] = 7;
    packet_sealer sealer(key, 5);
    packet_opener opener(key, 5);
    const bytes payload{1, 2, 3, 4, 5, 6, 7, 8};
    const auto packet = sealer.seal(42, payload);
    for (std::size_t bit = 0; bit < packet.size() * 8; ++bit) {
        INFO("bit " << bit);
        REQUIRE_FALSE(opener.open(flipped(packet, bit)));
    }
    for (std::size_t len = 0; len < packet.size(); ++len) REQUIRE_FALSE(opener.open(bytes_view(packet).first(len)));
    const auto opened = opener.open(packet);
    REQUIRE(opened);
    CHECK(opened->packet_number == 42);
    CHECK(opened->plaintext == payload);
    CHECK_FALSE(opener.open(packet));
    // A packet sealed for another connection id does not open here either.
    packet_sealer other(key, 6);
    CHECK_FALSE(opener.open(other.seal(43, payload)));
}

TEST_CASE("the replay window refuses repeats and numbers too far behind", "[hostile]") {
    replay_window w;
    CHECK_FALSE(w.seen_or_too_old(0));
    w.mark(0);
    CHECK(w.seen_or_too_old(0));
    w.mark(5);
    CHECK_FALSE(w.seen_or_too_old(3));
    w.mark(3);
    CHECK(w.seen_or_too_old(3));
    w.mark(5000);
    CHECK(w.seen_or_too_old(5000 - replay_window::size));
    CHECK_FALSE(w.seen_or_too_old(5000 - replay_window::size + 1));
    CHECK(w.seen_or_too_old(5));
    // Slots reused by the window's advance do not remember older numbers.
    CHECK_FALSE(w.seen_or_too_old(5 + replay_window::size + 1000));
}

TEST_CASE("corrupted data packets on the path act as losses: the transfer completes", "[hostile]") {
    stream_pair p(31);
    random_source noise(31);
    std::uint64_t corrupted = 0;
    p.filter = [&](stream_pair::side, bytes& d) {
        if (d[0] == 0x13 && noise.unit() < 0.1) {
            d[noise.uniform(d.size())] ^= static_cast<std::uint8_t>(1u << noise.uniform(8));
            ++corrupted;
        }
        return true;
    };
    random_source data_rng(31);
    const auto payload = random_bytes(data_rng, 300000);
    CHECK(transfer(p, payload, 120s) == payload);
    CHECK(corrupted > 20);
}

TEST_CASE("replayed, truncated and garbage datagrams change nothing", "[hostile]") {
    stream_pair p(32);
    std::vector<bytes> seen_by_b, seen_by_a;
    p.filter = [&](stream_pair::side to, bytes& d) {
        (to == stream_pair::to_b ? seen_by_b : seen_by_a).push_back(d);
        return true;
    };
    random_source data_rng(32);
    const auto payload = random_bytes(data_rng, 200000);
    REQUIRE(transfer(p, payload, 60s) == payload);
    const auto id = p.a->id();

    random_source noise(32);
    for (const auto& d : seen_by_b) {
        p.inject(stream_pair::to_b, d);
        p.inject(stream_pair::to_b, bytes(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(noise.uniform(d.size()))));
    }
    for (const auto& d : seen_by_a) p.inject(stream_pair::to_a, d);
    for (int i = 0; i < 5000; ++i) {
        auto junk = random_bytes(noise, noise.uniform(1300));
        if (junk.size() >= 9 && i % 2 == 0) {
            junk[0] = static_cast<std::uint8_t>(0x10 + noise.uniform(16));
            for (int k = 0; k < 8; ++k) junk[1 + static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(id >> (56 - 8 * k));
        }
        p.inject(i % 3 == 0 ? stream_pair::to_a : stream_pair::to_b, junk);
    }
    CHECK(p.b->read().empty());
    CHECK(p.a->current_state() == state::open);
    CHECK(p.b->current_state() == state::open);
    // The stream still works afterwards.
    const auto more = random_bytes(data_rng, 50000);
    CHECK(transfer(p, more, 60s) == more);
}

TEST_CASE("routing helpers read only well-formed stream packets", "[hostile]") {
    CHECK_FALSE(overlay::secure_stream::connection_id(bytes{}));
    CHECK_FALSE(overlay::secure_stream::connection_id(bytes{0x13, 1, 2}));
    CHECK_FALSE(overlay::secure_stream::connection_id(bytes{'d', 1, 2, 3, 4, 5, 6, 7, 8}));
    CHECK(overlay::secure_stream::connection_id(bytes{0x13, 0, 0, 0, 0, 0, 0, 1, 2}) == 258);
    bytes init(init_packet_size, 0);
    init[0] = 0x10;
    init[9] = 1;
    CHECK(overlay::secure_stream::is_handshake_init(init));
    init[150] = 1; // padding must be zero
    CHECK_FALSE(overlay::secure_stream::is_handshake_init(init));
    init[150] = 0;
    init.pop_back();
    CHECK_FALSE(overlay::secure_stream::is_handshake_init(init));
}
