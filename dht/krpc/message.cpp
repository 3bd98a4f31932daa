#include "dht/krpc/message.hpp"

namespace ovl::krpc {

message message::query(std::string tid, std::string method, bencode::dict args) {
    message m;
    m.kind = message_kind::query;
    m.transaction_id = std::move(tid);
    m.method = std::move(method);
    m.body = std::move(args);
    return m;
}

message message::response(std::string tid, bencode::dict values) {
    message m;
    m.kind = message_kind::response;
    m.transaction_id = std::move(tid);
    m.body = std::move(values);
    return m;
}

message message::error(std::string tid, int code, std::string text) {
    message m;
    m.kind = message_kind::error;
    m.transaction_id = std::move(tid);
    m.error_code = code;
    m.error_message = std::move(text);
    return m;
}

} // namespace ovl::krpc
