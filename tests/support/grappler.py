"""What TensorFlow's runtime does to a traced function before running it: Grappler's rewrites.

A ``tf.function`` orders a variable read before a later write of the same variable with a control
edge; Grappler's dependency optimizer may remove such edges. These helpers run Grappler on a traced
graph (through its Python entry point, a private TensorFlow module, fine for tests) and list the
reads a write is no longer ordered after.
"""

from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2
from tensorflow.python.framework import meta_graph
from tensorflow.python.grappler import tf_optimizer

READS = frozenset({"ReadVariableOp", "ResourceGather", "ResourceGatherNd"})
WRITES = frozenset({"AssignVariableOp", "AssignSubVariableOp", "AssignAddVariableOp"})


def optimized(concrete_function):
    """The graph of ``concrete_function`` after Grappler's default rewrites, as a ``GraphDef``."""
    graph = concrete_function.graph
    meta = meta_graph.create_meta_graph_def(graph=graph)
    fetches = [op.name for op in graph.get_operations() if op.type in WRITES]
    fetches += [tensor.op.name for tensor in concrete_function.outputs]
    meta.collection_def["train_op"].node_list.value.extend(fetches)
    config = config_pb2.ConfigProto()
    config.graph_options.rewrite_options.min_graph_nodes = -1  # small graphs too, as functions are
    config.graph_options.rewrite_options.dependency_optimization = rewriter_config_pb2.RewriterConfig.ON
    return tf_optimizer.OptimizeGraph(config, meta)


def unordered_reads(graph_def):
    """``(read, write)`` pairs on the same variable with no path between them in either direction."""
    nodes = {node.name: node for node in graph_def.node}

    def sources(node):
        return {name.lstrip("^").split(":")[0] for name in node.input}

    ancestors: dict = {}

    def ancestors_of(name):
        if name not in ancestors:
            found, stack = set(), [name]
            while stack:
                for source in sources(nodes[stack.pop()]):
                    if source in nodes and source not in found:
                        found.add(source)
                        stack.append(source)
            ancestors[name] = found
        return ancestors[name]

    def resource(node):
        return node.input[0].split(":")[0]

    reads = [node for node in graph_def.node if node.op in READS]
    writes = [node for node in graph_def.node if node.op in WRITES]
    return [
        (read.name, write.name)
        for write in writes
        for read in reads
        if resource(read) == resource(write)
        and read.name not in ancestors_of(write.name)
        and write.name not in ancestors_of(read.name)
    ]
