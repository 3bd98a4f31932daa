// overlay_node: publishing our signed contact record and fetching others'.
#include "overlay/overlay_node.hpp"
#include "overlay/overlay_node_internal.hpp"

#include "dht/bencode/decode.hpp"

#include <algorithm>

namespace ovl::overlay {

void overlay_node::maybe_publish_record(timestamp now) {
    if (!client_.running()) return;
    auto introducers = client_.introducers();
    if (introducers.empty()) return;
    std::sort(introducers.begin(), introducers.end());
    if (introducers == published_introducers_ && now < next_record_) return;
    published_introducers_ = introducers;
    next_record_ = now + config_.record_interval;

    contact_record record;
    const auto p = profile();
    record.observed = p.public_endpoint ? std::vector<endpoint>{*p.public_endpoint} : p.observed;
    if (record.observed.size() > 4) record.observed.resize(4);
    if (p.ipv6_endpoint) record.observed.push_back(*p.ipv6_endpoint);
    record.lan = config_.lan;
    record.nat = to_string(p.verdict);
    record.introducers = introducers;
    record.transports = {"udp", "relay"};
    const auto seq = config_.record_seq_base + static_cast<std::int64_t>(++records_published_);
    dht_.put_item(now, self_.public_key_bytes(), contact_salt, seq, record.encode(),
                  [this](std::span<const std::uint8_t> m) { return self_.sign(m); },
                  [this, seq](timestamp, const dht::put_item_result& r) {
                      log_->info("contact record {} published on {} nodes", seq, r.stored_at);
                  });
}

void overlay_node::fetch_contact(timestamp now, const public_key& peer,
                                 std::function<void(timestamp, std::optional<contact_record>)> done) {
    dht_.get_item(now, peer, contact_salt,
                  [this, done = std::move(done)](timestamp t, const std::optional<dht::mutable_item>& item,
                                                 const dht::lookup_result&) {
                      std::optional<contact_record> record;
                      if (item) {
                          auto v = bencode::decode({reinterpret_cast<const std::uint8_t*>(item->value.data()), item->value.size()});
                          std::string why = "not bencoded";
                          if (v) record = contact_record::decode(*v, &why);
                          if (!record) log_->info("contact record rejected: {}", why);
                      }
                      done(t, record);
                  });
}


} // namespace ovl::overlay
