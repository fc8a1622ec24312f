# PD_WARNINGS: the warnings the project's own code must be free of.
# They are errors unless --disable-werror is given.
AC_DEFUN([PD_WARNINGS], [
	AC_ARG_ENABLE([werror],
		[AS_HELP_STRING([--disable-werror], [do not treat warnings as errors])],
		[], [enable_werror=yes])
	PD_CFLAGS="-Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter"
	AS_IF([test "x$enable_werror" = xyes], [PD_CFLAGS="$PD_CFLAGS -Werror"])
	AC_SUBST([PD_CFLAGS])
])
