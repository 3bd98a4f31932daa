// A lookup walks past unanswering nodes at the slow pace (traversal_config::slow_after),
// not the query timeout, and still takes a slow node's late answer. The sender is
// scripted: each test decides which queries are answered, slow or timed out, and when.
#include "dht/traversal.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <unordered_map>

using namespace ovl;
using namespace ovl::dht;
using namespace std::chrono_literals;

namespace {

class scripted_sender final : public query_sender {
public:
    explicit scripted_sender(node_id self) : self_(self) {}

    bool send_query(timestamp, const endpoint& to, const std::string&, bencode::dict, krpc::reply_handler handler,
                    std::optional<node_id>, duration slow_after) override {
        pending_[to] = std::move(handler);
        last_slow_after = slow_after;
        sent.push_back(to);
        return true;
    }
    const node_id& self_id() const override { return self_; }

    void answer(timestamp now, const endpoint& from, const node_id& id, const std::vector<contact>& nodes = {}) {
        auto reply = krpc::message::response("tt", {{"id", id.to_bytes()}, {"nodes", encode_nodes(nodes)}});
        krpc::query_outcome outcome{krpc::query_status::response, from, &reply, 10ms};
        take(from)(now, outcome);
    }
    void slow(timestamp now, const endpoint& to) {
        krpc::query_outcome outcome{krpc::query_status::slow, to, nullptr, 1s};
        pending_.at(to)(now, outcome);
    }
    void time_out(timestamp now, const endpoint& to) {
        krpc::query_outcome outcome{krpc::query_status::timeout, to, nullptr, 3s};
        take(to)(now, outcome);
    }
    bool asked(const endpoint& ep) const { return std::find(sent.begin(), sent.end(), ep) != sent.end(); }

    std::vector<endpoint> sent;
    duration last_slow_after{};

private:
    krpc::reply_handler take(const endpoint& ep) {
        auto h = std::move(pending_.at(ep));
        pending_.erase(ep);
        return h;
    }
    node_id self_;
    std::unordered_map<endpoint, krpc::reply_handler, endpoint_hash> pending_;
};

struct fixture {
    random_source rng{7};
    node_id target = node_id::random(rng);
    scripted_sender sender{node_id::random(rng)};
    std::vector<contact> seeds;
    std::optional<lookup_result> result;

    fixture() {
        // Five nodes at growing distance from the target: seeds[0] is the closest.
        for (int prefix : {40, 30, 20, 10, 5}) {
            auto ip = "192.0.2." + std::to_string(prefix) + ":6881";
            seeds.push_back({node_id::random_in_bucket(target, prefix, rng), *endpoint::parse(ip)});
        }
    }
    std::shared_ptr<traversal> start(timestamp now) {
        auto t = std::make_shared<traversal>(sender, traversal::kind::find_node, target, traversal_config{},
                                             address_families{true, false},
                                             [this](timestamp, const lookup_result& r) { result = r; });
        for (const auto& s : seeds) t->add_seed(s);
        t->start(now);
        return t;
    }
};

} // namespace

TEST_CASE("a lookup asks the next node when one is slow, and ends without waiting for dead ones", "[traversal]") {
    fixture f;
    timestamp t0{100s};
    auto lookup = f.start(t0);
    CHECK(f.sender.last_slow_after == traversal_config{}.slow_after);
    // alpha = 3: the three closest are asked first.
    REQUIRE(f.sender.sent.size() == 3);
    CHECK_FALSE(f.sender.asked(f.seeds[3].ep));

    // The three closest are dead. After slow_after each frees its slot.
    for (int i = 0; i < 3; ++i) f.sender.slow(t0 + 1s, f.seeds[i].ep);
    CHECK(f.sender.asked(f.seeds[3].ep));
    CHECK(f.sender.asked(f.seeds[4].ep));
    f.sender.answer(t0 + 1100ms, f.seeds[3].ep, f.seeds[3].id);
    CHECK_FALSE(f.result);
    f.sender.answer(t0 + 1100ms, f.seeds[4].ep, f.seeds[4].id);
    // Only slow queries are left and nodes have answered: done at 1.1 s, not at the 3 s timeout.
    REQUIRE(f.result);
    CHECK(f.result->elapsed == 1100ms);
    CHECK(f.result->closest.size() == 2);
    CHECK(f.result->closest[0].ep == f.seeds[3].ep);

    // Their timeouts come later and change nothing.
    auto before = *f.result;
    for (int i = 0; i < 3; ++i) f.sender.time_out(t0 + 3s, f.seeds[i].ep);
    CHECK(f.result->elapsed == before.elapsed);
    CHECK(f.result->timeouts == before.timeouts);
}

TEST_CASE("a slow node's late answer still counts", "[traversal]") {
    fixture f;
    f.seeds.resize(1);
    timestamp t0{100s};
    auto lookup = f.start(t0);
    REQUIRE(f.sender.sent.size() == 1);
    // Nobody has answered yet: a slow query alone does not end the lookup.
    f.sender.slow(t0 + 1s, f.seeds[0].ep);
    CHECK_FALSE(f.result);
    // It answers at 2 s and names a closer node, which is then asked.
    contact closer{node_id::random_in_bucket(f.target, 80, f.rng), *endpoint::parse("192.0.2.80:6881")};
    f.sender.answer(t0 + 2s, f.seeds[0].ep, f.seeds[0].id, {closer});
    CHECK_FALSE(f.result);
    REQUIRE(f.sender.asked(closer.ep));
    f.sender.answer(t0 + 2100ms, closer.ep, closer.id);
    REQUIRE(f.result);
    REQUIRE(f.result->closest.size() == 2);
    CHECK(f.result->closest[0].ep == closer.ep);
    CHECK(f.result->hops == 2);
}

TEST_CASE("a lookup where every node is dead ends at the timeout with nothing", "[traversal]") {
    fixture f;
    timestamp t0{100s};
    auto lookup = f.start(t0);
    for (int i = 0; i < 3; ++i) f.sender.slow(t0 + 1s, f.seeds[i].ep);
    for (int i = 3; i < 5; ++i) f.sender.slow(t0 + 2s, f.seeds[i].ep);
    CHECK_FALSE(f.result);
    for (int i = 0; i < 5; ++i) f.sender.time_out(t0 + 4s, f.seeds[i].ep);
    REQUIRE(f.result);
    CHECK(f.result->closest.empty());
    CHECK(f.result->timeouts == 5);
}
