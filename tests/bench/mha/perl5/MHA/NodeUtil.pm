# Load-time adjustment of MHA 0.58's MHA::NodeUtil for MariaDB 10.11, used by
# tests/bench/compare-mha through PERL5LIB. The packaged module is read from
# the next directory in @INC and compiled unchanged except for one added
# pragma: `no warnings 'redundant'`.
#
# Why: the module runs under `use warnings FATAL => 'all'`, and its version
# parser formats every number of the server's version string with a fixed
# sprintf pattern. MariaDB's version string ("10.11.19-MariaDB-0+deb12u1-log")
# has more numbers than the pattern, Perl warns "Redundant argument in
# sprintf", and the fatal warning aborts MHA. The parsed value is the same
# with or without the warning.
package MHA::NodeUtil;

use strict;
use warnings;
use File::Spec;

my $here = File::Spec->rel2abs( __FILE__ );
my $original;
for my $dir (@INC) {
  next if ref $dir;
  my $candidate = File::Spec->rel2abs( File::Spec->catfile( $dir, 'MHA', 'NodeUtil.pm' ) );
  next if $candidate eq $here || !-f $candidate;
  $original = $candidate;
  last;
}
die "MHA/NodeUtil.pm overlay: the packaged module is not in \@INC (install mha4mysql-node)\n"
  unless $original;

open( my $fh, '<', $original ) or die "MHA/NodeUtil.pm overlay: $original: $!\n";
my $source = do { local $/; <$fh> };
close $fh;
$source =~ s/^(use warnings FATAL => 'all';)$/$1 no warnings 'redundant';/m
  or die "MHA/NodeUtil.pm overlay: $original does not look like MHA 0.58's\n";

# Compiled with the original's file name, so messages point at its lines.
{
  no strict;
  eval "#line 1 \"$original\"\n$source" or die $@ || "MHA/NodeUtil.pm overlay: $original did not load\n";
}

1;
