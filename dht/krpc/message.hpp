// KRPC messages (BEP 5) as decoded values: a query, a response or an error, with the
// transaction id that pairs them and the requester's observed address (BEP 42 `ip`).
// This layer knows nothing of UDP: the same messages travel over our own socket or
// over libtorrent's DHT socket.
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/bencode/value.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace ovl::krpc {

enum class message_kind { query, response, error };

// KRPC error codes (BEP 5).
enum error_code : int {
    generic_error = 201,
    server_error = 202,
    protocol_error = 203,
    method_unknown = 204,
};

struct message {
    message_kind kind = message_kind::query;
    std::string transaction_id;
    // Queries: the method name ("q") and its arguments ("a").
    std::string method;
    // Queries: "a"; responses: "r". Empty for errors.
    bencode::dict body;
    // Errors: "e" = [code, text].
    int error_code = 0;
    std::string error_message;
    // Responses and errors: the requester's address as the responder saw it.
    std::optional<endpoint> observed;
    // Client version ("v"), opaque.
    std::string version;
    // BEP 43 read-only node ("ro" = 1 in a query).
    bool read_only = false;

    static message query(std::string tid, std::string method, bencode::dict args);
    static message response(std::string tid, bencode::dict values);
    static message error(std::string tid, int code, std::string text);
};

} // namespace ovl::krpc
