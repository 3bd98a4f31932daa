// birthday_probe on its own: the many-socket side opens each socket once and probes from
// it twice, paced; the spray side probes distinct random ports of the peer's address,
// after its delay, up to its budget; stop() ends both.
#include "overlay/birthday_probe.hpp"
#include "overlay/punch_session.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <set>

using namespace ovl;
using namespace ovl::overlay;
using namespace std::chrono_literals;

namespace {

const endpoint peer{ip_address::v4(0xCB007105), 40000};  // 203.0.113.5
const timestamp t0{};

std::vector<outgoing_datagram> drain(birthday_probe& b) {
    std::vector<outgoing_datagram> out;
    while (auto d = b.poll_transmit()) out.push_back(std::move(*d));
    return out;
}

// Runs the probe to completion on its own deadlines; returns every datagram with its time.
std::vector<std::pair<timestamp, outgoing_datagram>> run(birthday_probe& b, timestamp now) {
    std::vector<std::pair<timestamp, outgoing_datagram>> all;
    for (auto& d : drain(b)) all.emplace_back(now, std::move(d));
    while (auto next = b.next_deadline()) {
        REQUIRE(*next > now);
        now = *next;
        b.on_timeout(now);
        for (auto& d : drain(b)) all.emplace_back(now, std::move(d));
    }
    return all;
}

} // namespace

TEST_CASE("birthday_probe: many sockets each probe the peer twice, 128 per round", "[birthday]") {
    birthday_probe::settings s;
    birthday_probe b(birthday_probe::role::many_sockets, punch_session::probe("ABCDEFGH"), peer, 10, s,
                     random_source(1), 100ms, t0);
    const auto all = run(b, t0);
    REQUIRE(all.size() == 2u * s.sockets);
    std::map<std::uint16_t, int> per_socket;
    std::map<timestamp, int> per_instant;
    for (const auto& [at, d] : all) {
        CHECK(d.to == peer);
        CHECK(d.payload == punch_session::probe("ABCDEFGH"));
        CHECK(d.ttl == s.opening_ttl);  // they only have to open our own NAT
        ++per_socket[d.socket];
        ++per_instant[at];
    }
    CHECK(per_socket.size() == s.sockets);
    CHECK(per_socket.begin()->first == 10);
    CHECK(per_socket.rbegin()->first == 10 + s.sockets - 1);
    for (const auto& [socket, n] : per_socket) CHECK(n == 2);
    for (const auto& [at, n] : per_instant) CHECK(n <= 2 * s.per_round);
    // The first two rounds open every socket; the resends start a second later.
    CHECK(per_instant.at(t0) == s.per_round);
    CHECK(all.back().first >= t0 + s.resend_after);
    CHECK(b.socket_count() == s.sockets);
    CHECK(b.probes_sent() == 2 * s.sockets);
}

TEST_CASE("birthday_probe: the spray probes distinct random ports of the peer's address after its delay", "[birthday]") {
    birthday_probe::settings s;
    birthday_probe b(birthday_probe::role::spray, punch_session::probe("ABCDEFGH"), peer, 0, s, random_source(7), 100ms, t0);
    CHECK(drain(b).empty());
    const auto all = run(b, t0);
    REQUIRE(all.size() == s.spray_probes);
    std::set<std::uint16_t> ports;
    for (const auto& [at, d] : all) {
        CHECK(at >= t0 + s.spray_delay);
        CHECK(d.to.address == peer.address);
        CHECK(d.to.port >= 1024);
        CHECK(d.socket == 0);
        CHECK(d.ttl == 0);  // the spray must reach the peer's NAT
        ports.insert(d.to.port);
    }
    CHECK(ports.size() == all.size());
    // 2048 probes at 128 per 100 ms round: 16 rounds, 1.5 s after the first.
    CHECK(all.back().first - all.front().first == 1500ms);
    CHECK(b.socket_count() == 0);
}

TEST_CASE("birthday_probe: the same seed sprays the same ports; stop() ends it", "[birthday]") {
    birthday_probe::settings s;
    birthday_probe a(birthday_probe::role::spray, punch_session::probe("ABCDEFGH"), peer, 0, s, random_source(3), 100ms, t0);
    birthday_probe b(birthday_probe::role::spray, punch_session::probe("ABCDEFGH"), peer, 0, s, random_source(3), 100ms, t0);
    a.on_timeout(t0 + 100ms);
    b.on_timeout(t0 + 100ms);
    const auto da = drain(a), db = drain(b);
    REQUIRE(da.size() == s.per_round);
    REQUIRE(db.size() == da.size());
    for (std::size_t i = 0; i < da.size(); ++i) CHECK(da[i].to == db[i].to);
    a.stop();
    CHECK_FALSE(a.next_deadline());
    a.on_timeout(t0 + 1s);
    CHECK(drain(a).empty());
}

TEST_CASE("punch_session: a reply on an extra socket settles the path there and stops the birthday", "[punch_session][birthday]") {
    punch_session p("ABCDEFGH", {peer}, t0, 100ms, 5s);
    p.add_birthday(birthday_probe(birthday_probe::role::many_sockets, punch_session::probe("ABCDEFGH"), peer, 1, {},
                                  random_source(1), 100ms, t0));
    int sent = 0;
    while (p.poll_transmit()) ++sent;
    CHECK(sent == 1 + 128);
    p.on_reply(t0 + 50ms, peer, 42);
    REQUIRE(p.current() == punch_session::state::succeeded);
    CHECK(p.path_socket() == 42);
    auto ack = p.poll_transmit();
    REQUIRE(ack);
    CHECK(ack->socket == 42);
    CHECK(ack->payload == punch_session::ack("ABCDEFGH"));
    CHECK_FALSE(p.poll_transmit());
    CHECK_FALSE(p.next_deadline());
}
