# PD_REQUIRE_PKG(VARIABLE, MODULES, DEBIAN-PACKAGE)
# Find MODULES through pkg-config or stop with one line naming the Debian
# package that provides them.
AC_DEFUN([PD_REQUIRE_PKG], [
	PKG_CHECK_MODULES([$1], [$2], [],
		[AC_MSG_ERROR([$2 not found: install the Debian package $3 (apt-get install $3)])])
])
