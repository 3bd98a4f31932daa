// Interop with a stock libtorrent session over real loopback UDP: two of our nodes
// (driven by udp_driver, each on its own thread) and one libtorrent DHT node form a
// small network. libtorrent's announces must be found by our get_peers, and our
// announces by libtorrent's dht_get_peers. The same again over IPv6 (BEP 32) on ::1.
// Everything waits on conditions with deadlines; the only sleeps are the poll interval.
#include "dht/io/udp_driver.hpp"
#include "dht/node.hpp"

#include <catch2/catch.hpp>

#include <libtorrent/alert_types.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/settings_pack.hpp>

#include <algorithm>
#include <chrono>
#include <future>
#include <thread>

namespace {

using namespace std::chrono_literals;
using ovl::endpoint;
using ovl::timestamp;
using ovl::dht::node_id;
using clock_type = std::chrono::steady_clock;

const endpoint loopback_any{ovl::ip_address::v4(0x7f000001), 0};
const ovl::ip_address loopback6 = *ovl::ip_address::parse("::1");

ovl::dht::node_config loopback_config(std::vector<endpoint> bootstrap) {
    ovl::dht::node_config c;
    c.bootstrap = std::move(bootstrap);
    // Every node here is 127.0.0.1.
    c.table.one_node_per_ip = false;
    return c;
}

// One of our nodes on its own io thread; call() runs a function there and waits.
class running_node {
public:
    running_node(const std::string& name, std::vector<endpoint> bootstrap)
        : running_node(name, loopback_config(std::move(bootstrap)), {loopback_any}) {}
    // Bound to each of `binds`, one per address family.
    running_node(const std::string& name, ovl::dht::node_config config, const std::vector<endpoint>& binds)
        : log_(ovl::stderr_logger(name, "warn")),
          node_(std::move(config), ovl::random_source::from_os(), log_, ovl::io::steady_now()),
          driver_(node_, binds.front(), log_) {
        for (std::size_t i = 1; i < binds.size(); ++i) driver_.add_family_socket(binds[i]);
        thread_ = std::thread([this] { driver_.run(); });
    }
    ~running_node() {
        driver_.stop();
        thread_.join();
    }

    endpoint local() const { return driver_.local_endpoint(); }
    endpoint local(ovl::ip_family family) const { return *driver_.local_endpoint(family); }

    template <typename F>
    auto call(F fn) {
        using result = decltype(fn(node_, timestamp{}));
        std::promise<result> p;
        auto f = p.get_future();
        driver_.post([&](timestamp now) { p.set_value(fn(node_, now)); });
        return f.get();
    }

    // Starts an asynchronous operation on the io thread and waits (bounded) for the value
    // its callback delivers.
    template <typename T, typename Start>
    std::optional<T> await(Start start, std::chrono::seconds limit = 20s) {
        auto p = std::make_shared<std::promise<T>>();
        auto f = p->get_future();
        driver_.post([this, p, start](timestamp now) { start(node_, now, [p](T value) { p->set_value(std::move(value)); }); });
        if (f.wait_for(limit) != std::future_status::ready) return std::nullopt;
        return f.get();
    }

private:
    ovl::logger_ptr log_;
    ovl::dht::node node_;
    ovl::io::udp_driver driver_;
    std::thread thread_;
};

lt::sha1_hash to_lt(const node_id& id) { return lt::sha1_hash(reinterpret_cast<const char*>(id.bytes().data())); }

lt::settings_pack lt_settings(const char* listen = "127.0.0.1:0") {
    lt::settings_pack sp;
    sp.set_str(lt::settings_pack::listen_interfaces, listen);
    sp.set_bool(lt::settings_pack::enable_dht, true);
    sp.set_str(lt::settings_pack::dht_bootstrap_nodes, "");
    sp.set_bool(lt::settings_pack::dht_restrict_routing_ips, false);
    sp.set_bool(lt::settings_pack::dht_restrict_search_ips, false);
    sp.set_bool(lt::settings_pack::dht_prefer_verified_node_ids, false);
    sp.set_bool(lt::settings_pack::enable_lsd, false);
    sp.set_bool(lt::settings_pack::enable_upnp, false);
    sp.set_bool(lt::settings_pack::enable_natpmp, false);
    sp.set_int(lt::settings_pack::alert_mask,
               lt::alert_category::dht | lt::alert_category::dht_operation | lt::alert_category::error);
    return sp;
}

bool contains(const std::vector<endpoint>& v, const endpoint& ep) { return std::find(v.begin(), v.end(), ep) != v.end(); }

} // namespace

TEST_CASE("a stock libtorrent session and our nodes find each other's announces", "[interop][libtorrent]") {
    const auto overall_deadline = clock_type::now() + 60s;
    ovl::random_source rng = ovl::random_source::from_os();

    running_node a("ours-a", {});
    running_node b("ours-b", {a.local()});
    REQUIRE(b.await<std::size_t>([](ovl::dht::node& n, timestamp now, auto done) {
        n.bootstrap(now, [done](timestamp, std::size_t known) { done(known); });
    }) >= 1u);

    lt::session ses(lt_settings());
    ses.add_dht_node({"127.0.0.1", a.local().port});

    // libtorrent joined once our bootstrap node has verified it and put it in its table
    // (A pings every querier that would fit), next to B.
    while (a.call([](ovl::dht::node& n, timestamp) { return n.table().size(); }) < 2) {
        REQUIRE(clock_type::now() < overall_deadline);
        std::this_thread::sleep_for(100ms);
    }
    const std::uint16_t lt_port = ses.listen_port();
    REQUIRE(lt_port != 0);
    const endpoint lt_node{ovl::ip_address::v4(0x7f000001), lt_port};

    SECTION("libtorrent announces, our node's get_peers finds it") {
        const auto info_hash = node_id::random(rng);
        const endpoint announced{ovl::ip_address::v4(0x7f000001), 7001};
        std::vector<endpoint> found;
        auto last_announce = clock_type::time_point{};
        while (!contains(found, announced)) {
            REQUIRE(clock_type::now() < overall_deadline);
            // Re-announce now and then: libtorrent's first traversal may run before its
            // routing table holds both of our nodes.
            if (clock_type::now() - last_announce > 5s) {
                ses.dht_announce(to_lt(info_hash), announced.port);
                last_announce = clock_type::now();
            }
            std::this_thread::sleep_for(200ms);
            auto result = b.await<ovl::dht::lookup_result>([info_hash](ovl::dht::node& n, timestamp now, auto done) {
                n.get_peers(now, info_hash, [done](timestamp, const ovl::dht::lookup_result& r) { done(r); });
            });
            REQUIRE(result);
            found = result->peers;
        }
        // The announce_peer libtorrent sent was accepted and stored by our node A.
        auto stored = a.call([info_hash](ovl::dht::node& n, timestamp now) {
            return n.storage().peers(now, info_hash, 50, n.rng());
        });
        CHECK(contains(stored, announced));
    }

    SECTION("our node announces, libtorrent's dht_get_peers finds it") {
        const auto info_hash = node_id::random(rng);
        const endpoint announced{ovl::ip_address::v4(0x7f000001), 7002};
        auto result = b.await<ovl::dht::announce_result>([info_hash](ovl::dht::node& n, timestamp now, auto done) {
            n.announce(now, info_hash, 7002, false, [done](timestamp, const ovl::dht::announce_result& r) { done(r); });
        });
        REQUIRE(result);
        std::vector<endpoint> closest;
        for (const auto& c : result->lookup.closest) closest.push_back(c.ep);
        // B's lookup reaches A and the libtorrent node, and both accept the announce.
        CHECK(contains(closest, lt_node));
        CHECK(contains(closest, a.local()));
        CHECK(result->stored_at == static_cast<int>(closest.size()));

        bool found = false;
        auto last_query = clock_type::time_point{};
        std::vector<lt::alert*> alerts;
        while (!found) {
            REQUIRE(clock_type::now() < overall_deadline);
            if (clock_type::now() - last_query > 3s) {
                ses.dht_get_peers(to_lt(info_hash));
                last_query = clock_type::now();
            }
            ses.wait_for_alert(std::chrono::milliseconds(200));
            ses.pop_alerts(&alerts);
            for (auto* alert : alerts) {
                auto* reply = lt::alert_cast<lt::dht_get_peers_reply_alert>(alert);
                if (!reply || reply->info_hash != to_lt(info_hash)) continue;
                for (const auto& p : reply->peers())
                    if (p.address().to_string() == "127.0.0.1" && p.port() == announced.port) found = true;
            }
        }
        CHECK(found);
    }
}

TEST_CASE("over IPv6 (BEP 32), a stock libtorrent session and our nodes find each other's announces",
          "[interop][libtorrent][ipv6]") {
    const auto overall_deadline = clock_type::now() + 60s;
    ovl::random_source rng = ovl::random_source::from_os();

    // A is IPv6-only; B is dual-stack and joins through A over IPv6.
    auto v6_config = loopback_config({});
    v6_config.families = {false, true};
    running_node a("ours-a6", v6_config, {endpoint{loopback6, 0}});
    auto dual_config = loopback_config({a.local(ovl::ip_family::v6)});
    dual_config.families = {true, true};
    running_node b("ours-b46", dual_config, {loopback_any, endpoint{loopback6, 0}});
    REQUIRE(b.await<std::size_t>([](ovl::dht::node& n, timestamp now, auto done) {
        n.bootstrap(now, [done](timestamp, std::size_t known) { done(known); });
    }) >= 1u);

    // libtorrent listens on ::1 only, so its DHT is IPv6 only.
    lt::session ses(lt_settings("[::1]:0"));
    ses.add_dht_node({"::1", a.local(ovl::ip_family::v6).port});
    while (a.call([](ovl::dht::node& n, timestamp) { return n.table6().size(); }) < 2) {
        REQUIRE(clock_type::now() < overall_deadline);
        std::this_thread::sleep_for(100ms);
    }
    const std::uint16_t lt_port = ses.listen_port();
    REQUIRE(lt_port != 0);
    const endpoint lt_node{loopback6, lt_port};

    SECTION("libtorrent announces over IPv6, our dual-stack node's get_peers finds the IPv6 peer") {
        const auto info_hash = node_id::random(rng);
        const endpoint announced{loopback6, 7003};
        std::vector<endpoint> found;
        auto last_announce = clock_type::time_point{};
        while (!contains(found, announced)) {
            REQUIRE(clock_type::now() < overall_deadline);
            if (clock_type::now() - last_announce > 5s) {
                ses.dht_announce(to_lt(info_hash), announced.port);
                last_announce = clock_type::now();
            }
            std::this_thread::sleep_for(200ms);
            auto result = b.await<ovl::dht::lookup_result>([info_hash](ovl::dht::node& n, timestamp now, auto done) {
                n.get_peers(now, info_hash, [done](timestamp, const ovl::dht::lookup_result& r) { done(r); });
            });
            REQUIRE(result);
            found = result->peers;
        }
        // libtorrent's announce_peer came over IPv6 and A stored an IPv6 peer.
        auto stored = a.call([info_hash](ovl::dht::node& n, timestamp now) {
            return n.storage().peers(now, info_hash, 50, n.rng());
        });
        CHECK(contains(stored, announced));
    }

    SECTION("our dual-stack node announces, libtorrent's dht_get_peers finds the IPv6 peer") {
        const auto info_hash = node_id::random(rng);
        auto result = b.await<ovl::dht::announce_result>([info_hash](ovl::dht::node& n, timestamp now, auto done) {
            n.announce(now, info_hash, 7004, false, [done](timestamp, const ovl::dht::announce_result& r) { done(r); });
        });
        REQUIRE(result);
        std::vector<endpoint> closest;
        for (const auto& c : result->lookup.closest) closest.push_back(c.ep);
        CHECK(contains(closest, lt_node));
        CHECK(contains(closest, a.local(ovl::ip_family::v6)));
        CHECK(result->stored_at == static_cast<int>(closest.size()));

        bool found = false;
        auto last_query = clock_type::time_point{};
        std::vector<lt::alert*> alerts;
        while (!found) {
            REQUIRE(clock_type::now() < overall_deadline);
            if (clock_type::now() - last_query > 3s) {
                ses.dht_get_peers(to_lt(info_hash));
                last_query = clock_type::now();
            }
            ses.wait_for_alert(std::chrono::milliseconds(200));
            ses.pop_alerts(&alerts);
            for (auto* alert : alerts) {
                auto* reply = lt::alert_cast<lt::dht_get_peers_reply_alert>(alert);
                if (!reply || reply->info_hash != to_lt(info_hash)) continue;
                for (const auto& p : reply->peers())
                    if (p.address().is_v6() && p.address().to_v6().is_loopback() && p.port() == 7004) found = true;
            }
        }
        CHECK(found);
    }
}
