// Package caffe reads and writes Caffe's file formats exactly as BVLC Caffe
// does, so that nets, weights, mean images and solver states move between
// Caffe and sparknet in both directions:
//
//   - .prototxt nets and solvers (protobuf text format): LoadNet, ParseNet,
//     LoadSolver, ParseSolver, UnmarshalText, MarshalText, WriteText;
//   - .caffemodel weights (binary NetParameter): LoadWeights, ReadWeights,
//     DecodeWeights, WriteBinary;
//   - .binaryproto blobs such as mean images (binary BlobProto):
//     LoadBlobProto, DecodeBlobProto;
//   - .solverstate snapshots (binary SolverState): LoadSolverState,
//     DecodeSolverState;
//   - blobs: BlobShape, BlobFromProto, BlobToProto, ShapeMatches;
//   - upgrades of old nets and solvers, mirroring Caffe's upgrade_proto.cpp:
//     UpgradeNetAsNeeded (V0 -> V1 -> V2 layers, data-transformation fields,
//     net-level inputs -> Input layer, BatchNorm param specs),
//     UpgradeSolverAsNeeded (solver_type enum -> type string), and
//     UpgradeLegacyBlobs (4-D num/channels/height/width -> shape).
//
// # The schema
//
// caffe.proto is sparknet's own proto2 schema, wire-compatible with BVLC
// Caffe master (9b89154, 2020): same message and field names, numbers, types
// and defaults. The Go types are generated into package caffe/pb by gen.sh
// (protoc + protoc-gen-go v1.36.12) and committed; run `go generate
// ./caffe` after editing the schema. It covers:
//
//   - NetParameter, LayerParameter (every field, including phase,
//     loss_weight, param, blobs, propagate_down, include/exclude), NetState,
//     NetStateRule, ParamSpec, FillerParameter, TransformationParameter,
//     LossParameter;
//   - the parameter message of every layer type in BVLC master: Accuracy,
//     ArgMax, BatchNorm, Bias, Clip, Concat, ContrastiveLoss, Convolution,
//     Crop, Data, Dropout, DummyData, Eltwise, ELU, Embed, Exp, Flatten,
//     HDF5Data, HDF5Output, HingeLoss, ImageData, InfogainLoss, InnerProduct,
//     Input, Log, LRN, MemoryData, MVN, Parameter, Pooling (with round_mode),
//     Power, PReLU, Python, Recurrent, Reduction, ReLU, Reshape, Scale,
//     Sigmoid, Softmax, SPP, Slice, Swish, TanH, Threshold, Tile,
//     WindowData;
//   - SolverParameter (every field, including the deprecated solver_type
//     enum and weights) and SolverState;
//   - BlobShape, BlobProto (float and double data/diff, legacy 4-D dims),
//     BlobProtoVector, Datum, the Phase enum;
//   - the deprecated V1LayerParameter (with its LayerType enum) and
//     V0LayerParameter, needed to upgrade old nets.
//
// One sparknet extension is added, outside BVLC's numbers: DataParameter's
// backend PARQUET = 2 and parquet_param = 1001 (ParquetParameter), for
// Parquet sources. BVLC Caffe's text parser rejects files that use them; its
// binary parser skips them.
//
// Left out, on purpose: messages that are not in BVLC Caffe but appear in
// public copies of caffe.proto from forks (SSD's AnnotatedDatum,
// NormalizedBBox, LabelMap, Sampler, ...; OpenCL/Greentea device fields;
// YOLO, Normalize, Permute, PriorBox, ...) and fork-specific changes of
// field types (int64 for int32) or numbers (e.g. ap_version = 42, which is
// BVLC's weights). Files that use such fields are not BVLC Caffe files; they
// fail to parse with an "unknown field" error naming the layer, exactly as
// they would in BVLC Caffe. Unknown fields in binary files are kept (and
// written back by WriteBinary) but not printed by MarshalText.
//
// # Text format
//
// UnmarshalText is sparknet's own parser of the protobuf text format,
// written so that every file the C++ TextFormat parser (which Caffe uses)
// accepts is accepted here with the same meaning, and so that errors read
// "FILE:LINE:COL: msg" and name the layer (name and type) they occur in.
//
// # Paths
//
// File names inside nets and solvers (net, train_net, test_net, source,
// mean_file, snapshot_prefix, ...) are kept as written; like Caffe, they are
// resolved against the working directory when opened.
package caffe

//go:generate ./gen.sh
