# Load-time adjustment of MHA 0.58's MHA::SlaveUtil for MariaDB 10.11, used by
# tests/bench/compare-mha through PERL5LIB. The packaged module is loaded from
# the next directory in @INC unchanged; one function is wrapped afterwards.
#
# Why: check_if_super_read_only() asks for @@global.super_read_only, which
# MariaDB does not have; the query fails ("Unknown system variable") and MHA
# gives up applying relay logs on the new primary. A server without the
# variable cannot be super read-only, so the wrapper answers "off" (0, 0),
# exactly what the original returns when the variable is 0. Every other
# error is passed on.
package MHA::SlaveUtil;

use strict;
use warnings;
use File::Spec;

my $here = File::Spec->rel2abs( __FILE__ );
my $original;
for my $dir (@INC) {
  next if ref $dir;
  my $candidate = File::Spec->rel2abs( File::Spec->catfile( $dir, 'MHA', 'SlaveUtil.pm' ) );
  next if $candidate eq $here || !-f $candidate;
  $original = $candidate;
  last;
}
die "MHA/SlaveUtil.pm overlay: the packaged module is not in \@INC (install mha4mysql-node)\n"
  unless $original;

do $original or die $@ || "MHA/SlaveUtil.pm overlay: $original did not load: $!\n";

my $packaged = \&MHA::SlaveUtil::check_if_super_read_only;
{
  no warnings 'redefine';
  *MHA::SlaveUtil::check_if_super_read_only = sub {
    my @result = eval { $packaged->(@_) };
    if ($@) {
      my $error = $@;
      return ( 0, 0 ) if $error =~ /Unknown system variable 'super_read_only'/i;
      die $error;
    }
    return @result;
  };
}

1;
