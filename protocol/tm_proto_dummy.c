/* placeholder replaced by the protocol module */
typedef int tm_proto_dummy_t;
