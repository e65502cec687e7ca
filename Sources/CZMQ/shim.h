#ifndef INV_CZMQ_SHIM_H
#define INV_CZMQ_SHIM_H
#include <zmq.h>
// eventfd wakes the writer client's I/O thread from submitting tasks; zmq_poll watches it beside the socket.
#include <sys/eventfd.h>
#endif
