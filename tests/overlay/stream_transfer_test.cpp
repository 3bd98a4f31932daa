#include "stream_harness.hpp"

#include <catch2/catch.hpp>
#include <sodium.h>

using namespace ovl;
using namespace ovl::test;
using state = overlay::secure_stream::state;

namespace {

std::array<std::uint8_t, 32> digest(const bytes& b) {
    std::array<std::uint8_t, 32> h{};
    crypto_generichash(h.data(), h.size(), b.data(), b.size(), nullptr, 0);
    return h;
}

} // namespace

TEST_CASE("1 MiB arrives intact and in order over a clean path", "[transfer]") {
    stream_pair p(20);
    random_source data_rng(20);
    const auto payload = random_bytes(data_rng, 1 << 20);
    const auto received = transfer(p, payload, 60s);
    REQUIRE(received.size() == payload.size());
    CHECK(digest(received) == digest(payload));
    const auto s = p.a->stats();
    CHECK(s.retransmits == 0);
    CHECK(s.packets_lost_detected == 0);
    CHECK(s.srtt >= 20ms);
    CHECK(s.srtt < 60ms);
    p.run_until([&] { return p.a->send_buffered() == 0; }, 5s);
    CHECK(p.a->stats().bytes_acked == payload.size());
}

TEST_CASE("1 MiB arrives intact and in order with 5% loss and reordering both ways", "[transfer]") {
    const link_profile lossy{20ms, 15ms, 0.05};
    for (std::uint64_t seed : {21, 22, 23}) {
        stream_pair p(seed, lossy, lossy);
        random_source data_rng(seed);
        const auto payload = random_bytes(data_rng, 1 << 20);
        const auto received = transfer(p, payload, 300s);
        INFO("seed " << seed << ", virtual time " << to_seconds(p.now - timestamp{}) << " s");
        REQUIRE(received.size() == payload.size());
        CHECK(digest(received) == digest(payload));
        CHECK(p.a->stats().retransmits > 0);
        CHECK(p.a->stats().packets_lost_detected > 0);
        CHECK(p.a->current_state() == state::open);
    }
}

TEST_CASE("data flows both ways at once", "[transfer]") {
    stream_pair p(24, {15ms, 10ms, 0.02}, {15ms, 10ms, 0.02});
    random_source data_rng(24);
    const auto ab = random_bytes(data_rng, 200000), ba = random_bytes(data_rng, 300000);
    std::size_t wa = 0, wb = 0;
    bytes at_a, at_b;
    REQUIRE(p.run_until([&] { return at_a.size() == ba.size() && at_b.size() == ab.size(); }, 120s, [&] {
        wa += p.a->write(bytes_view(ab).subspan(wa));
        auto r = p.a->read();
        at_a.insert(at_a.end(), r.begin(), r.end());
        if (p.b) {
            wb += p.b->write(bytes_view(ba).subspan(wb));
            r = p.b->read();
            at_b.insert(at_b.end(), r.begin(), r.end());
        }
    }));
    CHECK(at_a == ba);
    CHECK(at_b == ab);
}

TEST_CASE("close on both sides ends in closed after every byte is delivered", "[transfer]") {
    stream_pair p(25, {10ms, 5ms, 0.05}, {10ms, 5ms, 0.05});
    random_source data_rng(25);
    const auto payload = random_bytes(data_rng, 50000);
    std::size_t written = 0;
    bytes received;
    REQUIRE(p.run_until([&] { return p.a->current_state() == state::closed && p.b->current_state() == state::closed; },
                        60s, [&] {
                            if (written < payload.size()) {
                                written += p.a->write(bytes_view(payload).subspan(written));
                                if (written == payload.size()) p.a->close();
                            }
                            if (!p.b) return;
                            auto r = p.b->read();
                            received.insert(received.end(), r.begin(), r.end());
                            if (p.b->peer_finished()) p.b->close();
                        }));
    CHECK(received == payload);
    CHECK(p.a->write(payload) == 0);
    // Once closed, nothing is left to time out: no keepalives, no path-silent failure.
    p.run_until([] { return false; }, 120s);
    CHECK(p.a->current_state() == state::closed);
    CHECK(p.b->current_state() == state::closed);
}

TEST_CASE("a reader that never reads holds the sender to its buffer cap", "[transfer][flow]") {
    overlay::stream_config cfg;
    cfg.send_buffer = 256 * 1024;
    cfg.receive_window = 128 * 1024;
    stream_pair p(26, {}, {}, cfg);
    random_source data_rng(26);
    const auto block = random_bytes(data_rng, 64 * 1024);
    std::uint64_t accepted = 0;
    std::size_t max_buffered = 0;
    // The application writes all it can, B's application never reads.
    p.run_until([] { return false; }, 30s, [&] {
        accepted += p.a->write(block);
        max_buffered = std::max(max_buffered, p.a->send_buffered());
    });
    CHECK(max_buffered <= cfg.send_buffer);
    // What was accepted is at most the receive window plus the send buffer: the rest waits.
    CHECK(accepted <= cfg.receive_window + cfg.send_buffer);
    CHECK(accepted >= cfg.receive_window);
    CHECK(p.a->current_state() == state::open);
    CHECK(p.in_flight() < 10); // only probes, not a flood
    // Once B reads, the window opens and everything flows again.
    bytes got = p.b->read();
    CHECK(got.size() == cfg.receive_window);
    std::uint64_t total = got.size();
    const auto target = accepted + 1000000;
    REQUIRE(p.run_until([&] { return total >= target; }, 60s, [&] {
        accepted += p.a->write(block);
        total += p.b->read().size();
    }));
}
