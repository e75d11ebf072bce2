package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
)

func init() {
	var model, weights, solver, out string
	register(&Command{
		Name:      "upgrade",
		UsageLine: "-model in.prototxt [-out out.prototxt] | -weights in.caffemodel -out out.caffemodel | -solver in.prototxt [-out out.prototxt]",
		Short:     "upgrade old Caffe nets, weights and solvers to the current format",
		Long: `
Upgrade rewrites a Caffe file written for an older Caffe in the current (V2)
format, as Caffe's upgrade_net_proto_text, upgrade_net_proto_binary and
upgrade_solver_proto_text tools do: V0 and V1 layers ("layers { type:
CONVOLUTION }") become "layer { type: "Convolution" }", net-level
input/input_dim/input_shape become an Input layer, deprecated data
transformation fields move to transform_param, old BatchNorm param specs are
fixed, and a solver's solver_type enum becomes the type string (nets written
inside a solver, net_param, train_net_param and test_net_param, are upgraded
too).

With -model, the upgraded net is printed as text to standard output, or
written to -out. With -weights, the upgraded binary net is written to -out;
the legacy 4-D num/channels/height/width dimensions of InnerProduct and
Convolution blobs are also rewritten as shapes. With -solver, the upgraded
solver is printed as text or written to -out.`,
		SetFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&model, "model", "", "text net `prototxt` to upgrade")
			fs.StringVar(&weights, "weights", "", "binary `caffemodel` to upgrade (requires -out)")
			fs.StringVar(&solver, "solver", "", "text solver `prototxt` to upgrade")
			fs.StringVar(&out, "out", "", "output `file` (default: standard output for text)")
		},
		Run: func(_ context.Context, args []string) error {
			n := 0
			for _, s := range []string{model, weights, solver} {
				if s != "" {
					n++
				}
			}
			if len(args) != 0 || n != 1 {
				return errUsage
			}
			switch {
			case model != "":
				net, err := caffe.LoadNet(model)
				if err != nil {
					return err
				}
				return writeTextOut(net, out)
			case solver != "":
				sp, err := caffe.LoadSolver(solver)
				if err != nil {
					return err
				}
				if err := upgradeInlineNets(sp); err != nil {
					return fmt.Errorf("%s: %w", solver, err)
				}
				return writeTextOut(sp, out)
			default:
				if out == "" {
					return fmt.Errorf("-weights needs -out: the upgraded weights are binary")
				}
				net, err := caffe.LoadWeights(weights)
				if err != nil {
					return err
				}
				n := caffe.UpgradeLegacyBlobs(net)
				if err := caffe.WriteBinary(out, net); err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "wrote %s: %d layers, %d legacy blob shapes rewritten\n", out, len(net.Layer), n)
				return nil
			}
		},
	})
}

func writeTextOut(m proto.Message, out string) error {
	if out == "" {
		_, err := os.Stdout.Write(caffe.MarshalText(m))
		return err
	}
	return caffe.WriteText(out, m)
}

// upgradeInlineNets upgrades the nets a solver holds inline (net_param,
// train_net_param, test_net_param), so that the upgraded solver is all in
// the current format; nets the solver names by file are left to
// 'sparknet upgrade -model'.
func upgradeInlineNets(sp *pb.SolverParameter) error {
	nets := append([]*pb.NetParameter{sp.NetParam, sp.TrainNetParam}, sp.TestNetParam...)
	fields := append([]string{"net_param", "train_net_param"}, make([]string, len(sp.TestNetParam))...)
	for i := range sp.TestNetParam {
		fields[2+i] = fmt.Sprintf("test_net_param[%d]", i)
	}
	for i, n := range nets {
		if n == nil {
			continue
		}
		if err := caffe.UpgradeNetAsNeeded(n); err != nil {
			return fmt.Errorf("%s: %w", fields[i], err)
		}
	}
	return nil
}
