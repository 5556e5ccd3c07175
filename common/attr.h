/*
 * attr.h - the compiler attributes gosling's headers use, defined once.
 *
 * MUSTCHECK marks a function whose result says whether it worked (a bool, or a
 * pointer that is NULL on failure): with -Werror an ignored result does not build.
 */
#ifndef GOSLING_ATTR_H
#define GOSLING_ATTR_H

#ifdef __GNUC__
#define MUSTCHECK __attribute__((warn_unused_result))
#else
#define MUSTCHECK
#endif

#endif
