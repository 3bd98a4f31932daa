// BEP 44 interop with a stock libtorrent session over real loopback UDP: two of our
// nodes and one libtorrent DHT node. An item libtorrent puts (signed by libtorrent's own
// ed25519 code) must verify and be found by our get_item, and an item we put (signed
// with libsodium) must be stored by libtorrent and returned by its dht_get_item.
#include "dht/bencode/encode.hpp"
#include "dht/io/udp_driver.hpp"
#include "dht/node.hpp"

#include <catch2/catch.hpp>
#include <sodium.h>

#include <libtorrent/alert_types.hpp>
#include <libtorrent/bencode.hpp>
#include <libtorrent/kademlia/ed25519.hpp>
#include <libtorrent/kademlia/item.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/settings_pack.hpp>

#include <chrono>
#include <future>
#include <thread>

namespace {

using namespace std::chrono_literals;
using ovl::endpoint;
using ovl::timestamp;
using clock_type = std::chrono::steady_clock;

const endpoint loopback_any{ovl::ip_address::v4(0x7f000001), 0};

// One of our nodes on its own io thread; await() starts an operation there and waits
// (bounded) for the value its callback delivers.
class running_node {
public:
    running_node(const std::string& name, std::vector<endpoint> bootstrap)
        : log_(ovl::stderr_logger(name, "warn")),
          node_(config(std::move(bootstrap)), ovl::random_source::from_os(), log_, ovl::io::steady_now()),
          driver_(node_, loopback_any, log_),
          thread_([this] { driver_.run(); }) {}
    ~running_node() {
        driver_.stop();
        thread_.join();
    }

    endpoint local() const { return driver_.local_endpoint(); }

    template <typename T, typename Start>
    std::optional<T> await(Start start, std::chrono::seconds limit = 20s) {
        auto p = std::make_shared<std::promise<T>>();
        auto f = p->get_future();
        driver_.post([this, p, start](timestamp now) { start(node_, now, [p](T value) { p->set_value(std::move(value)); }); });
        if (f.wait_for(limit) != std::future_status::ready) return std::nullopt;
        return f.get();
    }

private:
    static ovl::dht::node_config config(std::vector<endpoint> bootstrap) {
        ovl::dht::node_config c;
        c.bootstrap = std::move(bootstrap);
        // Every node here is 127.0.0.1.
        c.table.one_node_per_ip = false;
        return c;
    }

    ovl::logger_ptr log_;
    ovl::dht::node node_;
    ovl::io::udp_driver driver_;
    std::thread thread_;
};

lt::settings_pack lt_settings() {
    lt::settings_pack sp;
    sp.set_str(lt::settings_pack::listen_interfaces, "127.0.0.1:0");
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

std::string lt_encoded(const lt::entry& e) {
    std::string out;
    lt::bencode(std::back_inserter(out), e);
    return out;
}

} // namespace

TEST_CASE("a stock libtorrent session and our nodes get each other's BEP 44 items", "[interop][libtorrent][item]") {
    const auto overall_deadline = clock_type::now() + 60s;
    const std::string salt = "ovl-contact";

    running_node a("ours-a", {});
    running_node b("ours-b", {a.local()});
    REQUIRE(b.await<std::size_t>([](ovl::dht::node& n, timestamp now, auto done) {
        n.bootstrap(now, [done](timestamp, std::size_t known) { done(known); });
    }) >= 1u);

    lt::session ses(lt_settings());
    ses.add_dht_node({"127.0.0.1", a.local().port});

    SECTION("libtorrent puts, our get_item finds and verifies the item") {
        auto [lt_pk, lt_sk] = lt::dht::ed25519_create_keypair(lt::dht::ed25519_create_seed());
        lt::entry::dictionary_type record;
        record["a"] = "203.0.113.9";
        record["p"] = 41000;
        const auto expected = lt_encoded(lt::entry(record));
        ovl::dht::public_key key{};
        std::copy(lt_pk.bytes.begin(), lt_pk.bytes.end(), key.begin());

        std::optional<ovl::dht::mutable_item> found;
        auto last_put = clock_type::time_point{};
        while (!found || found->seq != 3) {
            REQUIRE(clock_type::now() < overall_deadline);
            // Put again now and then: libtorrent's first traversal may run before its
            // routing table holds our nodes.
            if (clock_type::now() - last_put > 5s) {
                ses.dht_put_item(lt_pk.bytes,
                                 [record, pk = lt_pk, sk = lt_sk](lt::entry& v, std::array<char, 64>& sig,
                                                                  std::int64_t& seq, std::string const& s) {
                                     v = record;
                                     seq = 3;
                                     const auto encoded = lt_encoded(v);
                                     sig = lt::dht::sign_mutable_item(encoded, s, lt::dht::sequence_number(seq), pk, sk)
                                               .bytes;
                                 },
                                 salt);
                last_put = clock_type::now();
            }
            std::this_thread::sleep_for(300ms);
            auto result = b.await<std::optional<ovl::dht::mutable_item>>([key, salt](ovl::dht::node& n, timestamp now, auto done) {
                n.get_item(now, key, salt,
                           [done](timestamp, const std::optional<ovl::dht::mutable_item>& item,
                                  const ovl::dht::lookup_result&) { done(item); });
            });
            REQUIRE(result);
            found = *result;
        }
        CHECK(found->value == expected);
        CHECK(found->salt == salt);
        CHECK(ovl::dht::verify_item(*found));
    }

    SECTION("our node puts, libtorrent's dht_get_item returns the item") {
        std::array<std::uint8_t, 32> seed{};
        randombytes_buf(seed.data(), seed.size());
        ovl::dht::public_key key{};
        std::array<std::uint8_t, 64> secret{};
        crypto_sign_seed_keypair(key.data(), secret.data(), seed.data());
        const ovl::bencode::value record = ovl::bencode::dict{{"a", "203.0.113.10"}, {"p", 42000}};
        ovl::dht::item_signer signer = [secret](std::span<const std::uint8_t> m) {
            ovl::dht::item_signature sig{};
            crypto_sign_detached(sig.data(), nullptr, m.data(), m.size(), secret.data());
            return sig;
        };
        const auto encoded = ovl::bencode::encode(record);
        std::array<char, 32> lt_key{};
        std::copy(key.begin(), key.end(), lt_key.begin());

        bool found = false;
        auto last_put = clock_type::time_point{};
        auto last_get = clock_type::time_point{};
        std::vector<lt::alert*> alerts;
        while (!found) {
            REQUIRE(clock_type::now() < overall_deadline);
            // Put again now and then, until libtorrent's node has joined and gave B a token.
            if (clock_type::now() - last_put > 5s) {
                auto put = b.await<ovl::dht::put_item_result>([&](ovl::dht::node& n, timestamp now, auto done) {
                    n.put_item(now, key, salt, 5, record, signer,
                               [done](timestamp, const ovl::dht::put_item_result& r) { done(r); });
                });
                REQUIRE(put);
                CHECK(put->refused == 0);
                last_put = clock_type::now();
            }
            if (clock_type::now() - last_get > 2s) {
                ses.dht_get_item(lt_key, salt);
                last_get = clock_type::now();
            }
            ses.wait_for_alert(std::chrono::milliseconds(200));
            ses.pop_alerts(&alerts);
            for (auto* alert : alerts) {
                auto* item = lt::alert_cast<lt::dht_mutable_item_alert>(alert);
                if (!item || item->key != lt_key || item->salt != salt || item->seq != 5) continue;
                CHECK(lt_encoded(item->item) == std::string(encoded.begin(), encoded.end()));
                found = true;
            }
        }
        CHECK(found);
    }
}
