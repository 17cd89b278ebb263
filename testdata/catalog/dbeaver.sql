-- dbeaver context defaults (PostgreExecutionContext.refreshDefaults) [diff]
SELECT current_schema(),session_user;

-- dbeaver server version (connect) [run]
SELECT version();

-- dbeaver database list (PostgreDataSource.DatabaseCache) [run]
SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE 1 = 1 AND datallowconn AND NOT datistemplate OR db.datname ='postgres'
ORDER BY db.datname;

-- dbeaver database list, compared columns [diff]
SELECT db.datname, pg_catalog.pg_get_userbyid(db.datdba), pg_catalog.pg_encoding_to_char(db.encoding), db.datistemplate, db.datallowconn, db.datconnlimit FROM pg_catalog.pg_database db WHERE 1 = 1 AND datallowconn AND NOT datistemplate OR db.datname ='postgres'
ORDER BY db.datname;

-- dbeaver schema list (PostgreDatabase.SchemaCache) [run]
SELECT n.oid,n.*,d.description FROM pg_catalog.pg_namespace n
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=n.oid AND d.objsubid=0 AND d.classoid='pg_namespace'::regclass
 ORDER BY nspname;

-- dbeaver schema list, without information_schema (its OID depends on the server's initdb) [diff]
SELECT n.oid,n.*,d.description FROM pg_catalog.pg_namespace n
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=n.oid AND d.objsubid=0 AND d.classoid='pg_namespace'::regclass
WHERE n.nspname <> 'information_schema'
 ORDER BY nspname;

-- dbeaver settings lookup (standard_conforming_strings) [run]
select * from pg_catalog.pg_settings where name='standard_conforming_strings';

-- dbeaver settings lookup, compared columns [diff]
select name, setting, unit, category, vartype, context, min_val, max_val, enumvals, boot_val, reset_val from pg_catalog.pg_settings where name='standard_conforming_strings';

-- dbeaver keywords (PostgreDialect) [diff]
select string_agg(word, ',') from pg_catalog.pg_get_keywords() where word <> ALL ('{a,abs,absolute,action,add,all,allocate,alter,and,any,are,array,as,asc,asensitive,assertion,asymmetric,at,atomic,authorization,avg,begin,between,bigint,binary,bit,bit_length,blob,boolean,both,breadth,by,call,called,cardinality,cascade,cascaded,case,cast,catalog,ceil,ceiling,char,char_length,character,character_length,check,clob,close,coalesce,collate,collation,collect,column,commit,condition,connect,connection,constraint,constraints,constructor,contains,continue,convert,corr,corresponding,count,covar_pop,covar_samp,create,cross,cube,cume_dist,current,current_date,current_path,current_role,current_time,current_timestamp,current_user,cursor,cycle,data,date,day,deallocate,dec,decimal,declare,default,deferrable,deferred,delete,depth,deref,desc,describe,descriptor,deterministic,diagnostics,disconnect,distinct,do,domain,double,drop,dynamic,each,element,else,elseif,end,equals,escape,every,except,exception,exec,execute,exists,exit,external,extract,false,fetch,filter,first,float,floor,for,foreign,found,free,from,full,function,fusion,get,global,go,goto,grant,group,grouping,handler,having,hold,hour,identity,if,immediate,in,indicator,initially,inner,inout,input,insensitive,insert,int,integer,intersect,intersection,interval,into,is,isolation,iterate,join,key,language,large,last,lateral,leading,leave,left,level,like,ln,local,localtime,localtimestamp,locator,loop,lower,map,match,max,member,merge,method,min,minute,mod,modifies,module,month,multiset,names,national,natural,nchar,nclob,new,next,no,none,normalize,not,null,nullif,numeric,object,octet_length,of,old,on,only,open,option,or,order,ordinality,out,outer,output,over,overlaps,overlay,pad,parameter,partial,partition,path,position,power,precision,prepare,preserve,primary,prior,privileges,procedure,public,range,rank,read,reads,real,recursive,ref,references,referencing,relative,release,repeat,resignal,restrict,result,return,returns,revoke,right,role,rollback,rollup,routine,row,row_number,rows,savepoint,schema,scope,scroll,search,second,section,select,sensitive,session,session_user,set,sets,signal,similar,size,smallint,some,space,specific,specifictype,sql,sqlcode,sqlerror,sqlexception,sqlstate,sqlwarning,sqrt,start,state,static,submultiset,substring,sum,symmetric,system,system_user,table,tablesample,temporary,then,time,timestamp,timezone_hour,timezone_minute,to,trailing,transaction,translate,translation,treat,trigger,trim,true,under,undo,union,unique,unknown,unnest,until,update,upper,usage,user,using,value,values,var_pop,var_samp,varchar,varying,view,when,whenever,where,while,width_bucket,window,with,within,without,work,write,year,zone}'::text[]);

-- dbeaver pg_enum column probe [diff]
SELECT * FROM pg_catalog.pg_enum WHERE 1<>1 LIMIT 1;

-- dbeaver pg_class column probe [diff]
SELECT reltype FROM pg_catalog.pg_class WHERE 1<>1 LIMIT 1;

-- dbeaver data types (PostgreDataTypeCache) [run]
SELECT t.oid,t.*,c.relkind,format_type(nullif(t.typbasetype, 0), t.typtypmod) as base_type_name, d.description
FROM pg_catalog.pg_type t
LEFT OUTER JOIN pg_catalog.pg_type et ON et.oid=t.typelem
LEFT OUTER JOIN pg_catalog.pg_class c ON c.oid=t.typrelid
LEFT OUTER JOIN pg_catalog.pg_description d ON t.oid=d.objoid
WHERE t.typname IS NOT NULL
AND (c.relkind IS NULL OR c.relkind = 'c') AND (et.typcategory IS NULL OR et.typcategory <> 'C');

-- dbeaver data types, compared columns [diff]
SELECT t.oid,t.typname,t.typtype,t.typcategory,t.typlen,t.typelem,t.typarray,c.relkind,format_type(nullif(t.typbasetype, 0), t.typtypmod) as base_type_name
FROM pg_catalog.pg_type t
LEFT OUTER JOIN pg_catalog.pg_type et ON et.oid=t.typelem
LEFT OUTER JOIN pg_catalog.pg_class c ON c.oid=t.typrelid
LEFT OUTER JOIN pg_catalog.pg_description d ON t.oid=d.objoid
WHERE t.typname IS NOT NULL
AND (c.relkind IS NULL OR c.relkind = 'c') AND (et.typcategory IS NULL OR et.typcategory <> 'C')
AND t.typname IN ('bool', 'int2', 'int4', 'int8', 'float8', 'text', 'varchar', 'timestamptz', 'timestamp', 'numeric', '_text', '_int8', 'interval', 'json')
ORDER BY t.oid;

-- dbeaver single data type (PostgreDataTypeCache lookup) [diff]
SELECT t.oid,t.typname,c.relkind,format_type(nullif(t.typbasetype, 0), t.typtypmod) as base_type_name
FROM pg_catalog.pg_type t
LEFT OUTER JOIN pg_class c ON c.oid=t.typrelid
LEFT OUTER JOIN pg_catalog.pg_description d ON t.oid=d.objoid
WHERE t.oid=1184;

-- dbeaver tables of a schema (PostgreSchema.TableCache) [run]
SELECT c.oid,c.*,d.description,pg_catalog.pg_get_expr(c.relpartbound, c.oid) as partition_expr,  pg_catalog.pg_get_partkeydef(c.oid) as partition_key 
FROM pg_catalog.pg_class c
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_class'::regclass
WHERE c.relnamespace=2200 AND c.relkind not in ('i','I','c');

-- dbeaver tables of a schema, compared columns [diff]
SELECT c.oid,c.relname,c.relnamespace,c.relkind,c.relnatts,c.relhasindex,c.relpersistence,c.relispartition,c.relhasrules,c.relhastriggers,c.relchecks,c.reloftype,c.relacl,c.reloptions,d.description,pg_catalog.pg_get_expr(c.relpartbound, c.oid) as partition_expr,  pg_catalog.pg_get_partkeydef(c.oid) as partition_key 
FROM pg_catalog.pg_class c
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_class'::regclass
WHERE c.relnamespace=2200 AND c.relkind not in ('i','I','c') ORDER BY c.relname;

-- dbeaver table columns (PostgreSchema.TableCache children) [run]
SELECT c.relname,a.*,pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) as def_value,dsc.description,dep.objid
FROM pg_catalog.pg_attribute a
INNER JOIN pg_catalog.pg_class c ON (a.attrelid=c.oid)
LEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid=ad.adrelid AND a.attnum = ad.adnum)
LEFT OUTER JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)
LEFT OUTER JOIN pg_depend dep on dep.refobjid = a.attrelid AND dep.deptype = 'i' and dep.refobjsubid = a.attnum and dep.classid = dep.refclassid
WHERE NOT a.attisdropped AND c.relkind not in ('i','I','c') AND c.oid={{cpu}}
ORDER BY a.attnum;

-- dbeaver table columns, compared columns [diff]
SELECT c.relname,a.attname,a.attnum,a.atttypid,a.attlen,a.atttypmod,a.attnotnull,a.atthasdef,a.attidentity,a.attgenerated,a.attisdropped,a.attcollation,pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) as def_value,dsc.description,dep.objid
FROM pg_catalog.pg_attribute a
INNER JOIN pg_catalog.pg_class c ON (a.attrelid=c.oid)
LEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid=ad.adrelid AND a.attnum = ad.adnum)
LEFT OUTER JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)
LEFT OUTER JOIN pg_depend dep on dep.refobjid = a.attrelid AND dep.deptype = 'i' and dep.refobjsubid = a.attnum and dep.classid = dep.refclassid
WHERE NOT a.attisdropped AND c.relkind not in ('i','I','c') AND c.oid={{cpu}}
ORDER BY a.attnum;

-- dbeaver view columns, compared columns [diff]
SELECT c.relname,a.attname,a.attnum,a.atttypid,a.attnotnull,pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) as def_value,dsc.description
FROM pg_catalog.pg_attribute a
INNER JOIN pg_catalog.pg_class c ON (a.attrelid=c.oid)
LEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid=ad.adrelid AND a.attnum = ad.adnum)
LEFT OUTER JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)
WHERE NOT a.attisdropped AND c.relkind not in ('i','I','c') AND c.oid={{cpu_v}} AND a.attnum > 0
ORDER BY a.attnum;

-- dbeaver table inheritance [diff]
SELECT i.*,c.relnamespace FROM pg_catalog.pg_inherits i,pg_catalog.pg_class c WHERE i.inhrelid={{cpu}} AND c.oid=i.inhparent ORDER BY i.inhseqno;

-- dbeaver table constraints [diff]
SELECT c.oid,c.*,t.relname as tabrelname,rt.relnamespace as refnamespace,d.description, case when c.contype='c' then "substring"(pg_get_constraintdef(c.oid), 7) end consrc_copy
FROM pg_catalog.pg_constraint c
INNER JOIN pg_catalog.pg_class t ON t.oid=c.conrelid
LEFT OUTER JOIN pg_catalog.pg_class rt ON rt.oid=c.confrelid
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_constraint'::regclass
WHERE t.relnamespace=2200 AND c.conrelid={{cpu}}
ORDER BY c.oid;

-- dbeaver table indexes [diff]
SELECT i.*,i.indkey as keys,c.relname,c.relnamespace,c.relam,c.reltablespace,tc.relname as tabrelname,dsc.description,pg_catalog.pg_get_expr(i.indpred, i.indrelid) as pred_expr,pg_catalog.pg_get_expr(i.indexprs, i.indrelid, true) as expr,pg_catalog.pg_relation_size(i.indexrelid) as index_rel_size,pg_catalog.pg_stat_get_numscans(i.indexrelid) as index_num_scans
FROM pg_catalog.pg_index i
INNER JOIN pg_catalog.pg_class c ON c.oid=i.indexrelid
INNER JOIN pg_catalog.pg_class tc ON tc.oid=i.indrelid
LEFT OUTER JOIN pg_catalog.pg_description dsc ON i.indexrelid=dsc.objoid
WHERE i.indrelid={{cpu}}
ORDER BY tc.relname, c.relname;

-- dbeaver table triggers [diff]
SELECT x.oid,x.*,p.pronamespace as func_schema_id,d.description
FROM pg_catalog.pg_trigger x
LEFT OUTER JOIN pg_catalog.pg_proc p ON p.oid=x.tgfoid
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=x.oid
WHERE x.tgrelid={{cpu}} AND NOT x.tgisinternal
ORDER BY x.oid;

-- dbeaver procedures of a schema [diff]
SELECT p.oid,p.*,d.description
FROM pg_catalog.pg_proc p
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=p.oid
WHERE p.pronamespace=2200
ORDER BY p.proname;

-- dbeaver view definition (ugnos returns the stored text, not a deparsed tree) [run]
SELECT pg_catalog.pg_get_viewdef({{cpu_v}}, true);

-- dbeaver roles [run]
SELECT a.oid,a.*,pd.description FROM pg_catalog.pg_roles a
left join pg_catalog.pg_shdescription pd on a.oid = pd.objoid
ORDER BY a.rolname;

-- dbeaver access methods [diff]
SELECT am.oid,am.* FROM pg_catalog.pg_am am
ORDER BY am.oid;

-- dbeaver tablespaces [diff]
SELECT t.oid,t.*,pg_catalog.pg_tablespace_location(t.oid) loc
FROM pg_catalog.pg_tablespace t
ORDER BY t.oid;

-- dbeaver collations of a schema [run]
SELECT c.oid,c.* FROM pg_catalog.pg_collation c 
WHERE c.collnamespace=11
ORDER BY c.oid;

-- dbeaver extensions [run]
SELECT e.oid,e.*,n.nspname as schema_name FROM pg_catalog.pg_extension e
LEFT OUTER JOIN pg_catalog.pg_namespace n ON n.oid=e.extnamespace
ORDER BY e.oid;

-- dbeaver languages [diff]
SELECT l.oid,l.* FROM pg_catalog.pg_language l 
ORDER BY l.oid;

-- dbeaver array element type (pgjdbc TypeInfoCache via DBeaver) [diff]
SELECT e.oid, n.nspname = ANY(current_schemas(true)), n.nspname, e.typname FROM pg_catalog.pg_type t JOIN pg_catalog.pg_type e ON t.typelem = e.oid JOIN pg_catalog.pg_namespace n ON t.typnamespace = n.oid WHERE t.oid = '1015';

-- dbeaver database size [run]
SELECT pg_catalog.pg_database_size(db.oid) FROM pg_catalog.pg_database db WHERE db.datname = current_database();
