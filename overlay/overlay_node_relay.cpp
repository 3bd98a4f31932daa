// overlay_node: relayed paths — forwarding frames as an introducer, unwrapping them as an
// end of a session, and asking an introducer to relay when no direct path exists.
#include "overlay/overlay_node.hpp"
#include "overlay/overlay_node_internal.hpp"

#include "overlay/methods.hpp"
#include "overlay/relay_table.hpp"
#include "overlay/wire_tags.hpp"

namespace ovl::overlay {

void overlay_node::on_relay_frame(timestamp now, const endpoint& from, bytes_view frame) {
    // As an introducer: carry the frame to the session's other end.
    if (serving_) {
        if (auto out = service_.relays().forward(now, from, frame)) {
            raw_out_.push_back(std::move(*out));
            return;
        }
    }
    // As an end of a relayed session: unwrap what our relay sent us.
    auto sid = relay_table::session_of(frame);
    if (!sid) return;
    auto it = relay_paths_.find(*sid);
    if (it == relay_paths_.end() || it->second != from) return;
    auto inner = frame.subspan(9);
    if (!inner.empty() && inner[0] >= tag::stream_first && inner[0] <= tag::stream_last)
        on_stream_datagram(now, from, inner, *sid);
}

void overlay_node::request_relay(timestamp now, std::shared_ptr<connect_attempt> attempt, connect_result res) {
    const auto introducer = *attempt->introducer;
    bencode::dict args{{"id", dht_.id().to_bytes()},
                       {"k", std::string(self_.public_key_bytes().begin(), self_.public_key_bytes().end())},
                       {"t", std::string(attempt->target.begin(), attempt->target.end())},
                       {"sid", attempt->sid},
                       {"tok", attempt->token}};
    bool sent = dht_.send_query(
        now, introducer.ep, method::relay, args,
        [this, attempt, res, introducer, args](timestamp t, const krpc::query_outcome& o) mutable {
            if (o.status != krpc::query_status::response || !bencode::find_int(o.reply->body, "relay")) {
                res.error = o.status == krpc::query_status::error
                                ? "no direct path, and the introducer would not relay: " + o.reply->error_message
                                : "no direct path, and the introducer did not answer the relay request";
                finish(t, attempt, res);
                return;
            }
            relay_paths_[attempt->sid] = introducer.ep;
            res.path = path_kind::relay;
            res.remote = introducer.ep;
            const auto id = open_stream(t, attempt->target, introducer.ep, attempt->sid);
            if (id == 0) {
                res.error = "too many connections";
                finish(t, attempt, res);
                return;
            }
            remind(t + reintroduce_after, reintroduce_after, reintroductions, [this, id, introducer, args](timestamp t2) {
                const auto it = connections_.find(id);
                if (it == connections_.end() || it->second.stream->current_state() != secure_stream::state::handshaking)
                    return false;
                dht_.send_query(t2, introducer.ep, method::relay, args, [](timestamp, const krpc::query_outcome&) {});
                return true;
            });
            connections_.at(id).on_open = [this, attempt, res, id](timestamp t2, const secure_stream& st) mutable {
                res.ok = st.current_state() == secure_stream::state::open;
                res.connection = res.ok ? id : 0;
                if (!res.ok) res.error = "secure handshake over the relay failed: " + st.failure_reason();
                finish(t2, attempt, res);
            };
            service_streams(t);
        },
        introducer.id);
    if (!sent) {
        res.error = "could not send the relay request";
        finish(now, attempt, res);
    }
}


} // namespace ovl::overlay
