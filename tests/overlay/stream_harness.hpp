// Two secure streams joined by a simulated path in virtual time: per-direction latency,
// jitter (which reorders) and loss drawn from a seeded random_source, and a filter hook
// that may rewrite or drop any datagram. B's stream is created the way a socket owner
// would: when a handshake INIT with an unknown connection id arrives.
#pragma once

#include "overlay/stream/secure_stream.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>

namespace ovl::test {

using namespace std::chrono_literals;

struct link_profile {
    duration latency = 10ms;
    duration jitter = 0ms; // extra delay, uniform in [0, jitter): reorders packets
    double loss = 0.0;
};

class stream_pair {
public:
    enum side { to_a = 0, to_b = 1 };

    explicit stream_pair(std::uint64_t seed, link_profile ab = {}, link_profile ba = {},
                         overlay::stream_config cfg = {}, std::optional<overlay::public_key> expected = {},
                         bool expect_b = true)
        : rng(seed), id_a(overlay::identity::generate(rng)), id_b(overlay::identity::generate(rng)), links{ba, ab},
          cfg_(cfg) {
        auto want = expected ? expected : (expect_b ? std::optional(id_b.public_key_bytes()) : std::nullopt);
        a = std::make_unique<overlay::secure_stream>(overlay::secure_stream::role::initiator, id_a, want, 0,
                                                     random_source(rng.derive_seed()), null_logger(), now, cfg_);
    }

    random_source rng;
    overlay::identity id_a, id_b;
    link_profile links[2]; // indexed by destination
    timestamp now{};
    std::unique_ptr<overlay::secure_stream> a, b;
    // Sees every datagram before the link takes it; false drops it.
    std::function<bool(side to, bytes& datagram)> filter;
    std::uint64_t delivered[2] = {0, 0};

    void inject(side to, bytes datagram) { deliver(to, datagram); }

    // Runs until `done()` holds (checked after every event) or `limit` of virtual time
    // passes; `each` runs after every event (the applications). True when done.
    bool run_until(const std::function<bool()>& done, duration limit, const std::function<void()>& each = {}) {
        const auto end = now + limit;
        flush();
        while (!done()) {
            auto t = next_event();
            if (!t || *t > end) {
                now = end;
                return done();
            }
            now = std::max(now, *t);
            while (!queue_.empty() && queue_.begin()->first.first <= now) {
                auto node = queue_.extract(queue_.begin());
                deliver(node.mapped().first, node.mapped().second);
            }
            for (auto* s : {a.get(), b.get()}) {
                if (s && s->next_deadline() && *s->next_deadline() <= now) s->on_timeout(now);
            }
            if (each) each();
            flush();
        }
        return true;
    }

    void flush() {
        for (auto [s, to] : {std::pair{a.get(), to_b}, std::pair{b.get(), to_a}}) {
            if (!s) continue;
            while (auto d = s->poll_packet(now)) send(to, std::move(*d));
        }
    }

    std::size_t in_flight() const { return queue_.size(); }

private:
    std::optional<timestamp> next_event() const {
        std::optional<timestamp> t;
        if (!queue_.empty()) t = queue_.begin()->first.first;
        for (auto* s : {a.get(), b.get()}) {
            if (auto d = s ? s->next_deadline() : std::nullopt) t = t ? std::min(*t, *d) : *d;
        }
        return t;
    }

    void send(side to, bytes d) {
        if (filter && !filter(to, d)) return;
        const auto& l = links[to];
        if (l.loss > 0 && rng.unit() < l.loss) return;
        auto delay = l.latency;
        if (l.jitter > 0ns) delay += duration(static_cast<duration::rep>(rng.unit() * static_cast<double>(l.jitter.count())));
        queue_.emplace(std::pair{now + delay, seq_++}, std::pair{to, std::move(d)});
    }

    void deliver(side to, bytes_view d) {
        ++delivered[to];
        if (to == to_a) {
            a->on_packet(now, d);
            return;
        }
        if (!b && overlay::secure_stream::is_handshake_init(d)) {
            b = std::make_unique<overlay::secure_stream>(overlay::secure_stream::role::responder, id_b, std::nullopt,
                                                         *overlay::secure_stream::connection_id(d),
                                                         random_source(rng.derive_seed()), null_logger(), now, cfg_);
        }
        if (b && overlay::secure_stream::connection_id(d) == b->id()) b->on_packet(now, d);
    }

    overlay::stream_config cfg_;
    std::map<std::pair<timestamp, std::uint64_t>, std::pair<side, bytes>> queue_;
    std::uint64_t seq_ = 0;
};

// Pushes `payload` from A to B as fast as the streams accept it; B reads as it arrives.
// Returns what B received (complete or not by `limit`).
inline bytes transfer(stream_pair& p, const bytes& payload, duration limit) {
    std::size_t written = 0;
    bytes received;
    p.run_until([&] { return received.size() >= payload.size(); }, limit, [&] {
        if (written < payload.size()) written += p.a->write(bytes_view(payload).subspan(written));
        if (p.b) {
            auto chunk = p.b->read();
            received.insert(received.end(), chunk.begin(), chunk.end());
        }
    });
    return received;
}

inline bytes random_bytes(random_source& rng, std::size_t n) {
    bytes out(n);
    rng.fill(out);
    return out;
}

} // namespace ovl::test
