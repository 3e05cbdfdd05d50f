{{- /* The declared columns, in declared order. A column that no file has yet (declared after those files were
written) reads as a typed NULL, so adding a column never breaks a view. */ -}}
{{define "columns"}}{{range $i, $c := .Columns}}{{if $i}},
       {{end}}{{if $c.Present}}{{ident $c.Name}}{{else}}CAST(NULL AS {{$c.Type}}) AS {{ident $c.Name}}{{end}}{{end}}{{end}}
